"""Site-wide security pieces that belong to no one app: the sign-in lockout page, response
headers for pages with patient data, request-size bounds, the idle sign-out that a status poll
does not renew, and throttling of the public submission page."""
