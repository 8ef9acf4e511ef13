"""Demo data: sites, clinicians, listings and referrals with forwarding and messages. Safe to run
again: everything is looked up by a natural key first. Part of the sandbox, so only the demo and
test profiles have the command."""

import datetime
import sys
import uuid

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.creation import TEST_DATABASE_PREFIX
from django.utils import timezone

from directory.models import Listing, Site, User
from hrm.models import HrmReceiver, SenderApproval
from hrm.receivers.services import receiver_list_import
from hrm.senders.services import sender_approval_enter
from referrals import services
from referrals.models import Referral
from referrals.notifications import referrer_follow_url
from referrals.sample_files import consultation_letter_pdf

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 (a published demo login, never a real account)
_NAMESPACE = uuid.UUID("6f1f7a52-8d1e-4a55-9a53-3e0c2a1f0d11")
PRODUCTION_SETTINGS = "config.settings.production"

SITES = [
    ("Maple Family Health Team", Site.Kind.CLINIC, "frontdesk@maple-fht.example"),
    ("Lakeshore Central Intake", Site.Kind.CENTRAL_INTAKE, "intake@lakeshore.example"),
    ("St. Brigid's Hospital", Site.Kind.HOSPITAL, "referrals@stbrigid.example"),
]
# username, first, last, professional id, site, staff
USERS = [
    ("dr.nguyen", "Alice", "Nguyen", "D12345", "Maple Family Health Team"),
    ("rn.okafor", "Grace", "Okafor", "N1234567", "Lakeshore Central Intake"),
    ("dr.lee", "François", "Lee", "D67890", "St. Brigid's Hospital"),
    ("dr.patel", "Priya", "Patel", "D24680", "St. Brigid's Hospital"),
    ("dr.haddad", "Omar", "Haddad", "D13579", "Maple Family Health Team"),
]
# name, service, site, requires sign-in, clinician (first, last, id) or None
LISTINGS = [
    (
        "Dr. Alice Nguyen, Family Medicine",
        "Family Medicine",
        "Maple Family Health Team",
        True,
        ("Alice", "Nguyen", "D12345"),
    ),
    (
        "Dr. Omar Haddad, Family Medicine",
        "Family Medicine",
        "Maple Family Health Team",
        True,
        ("Omar", "Haddad", "D13579"),
    ),
    ("Lakeshore Cardiology Central Intake", "Cardiology", "Lakeshore Central Intake", False, None),
    (
        "St. Brigid's Cardiology, Dr. Lee",
        "Cardiology",
        "St. Brigid's Hospital",
        True,
        ("François", "Lee", "D67890"),
    ),
    (
        "St. Brigid's Orthopaedics, Dr. Patel",
        "Orthopaedic Surgery",
        "St. Brigid's Hospital",
        False,
        ("Priya", "Patel", "D24680"),
    ),
]


# OntarioMD's list of approved HRM receivers, as the demo's import file holds it.
RECEIVERS = [
    ("D12345", "Alice", "Nguyen"),
    ("D67890", "François", "Lee"),
    ("D24680", "Priya", "Patel"),
    ("D13579", "Omar", "Haddad"),
]
# username, site, UPI: senders support has approved
SENDERS = [
    ("dr.lee", "St. Brigid's Hospital", "UPI-67890"),
    ("dr.patel", "St. Brigid's Hospital", "UPI-24680"),
]


def demo_database_or_refuse() -> None:
    """The demo's own database is SQLite (the demo profile runs on nothing else), or a test run's
    throwaway database under the test profile. Anything else may hold real patients and accounts:
    refused before anything is written."""
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor == "sqlite":
        return
    name = str(database.settings_dict["NAME"])
    if getattr(settings, "SEED_DEMO_ON_TEST_DATABASES", False) and name.startswith(
        TEST_DATABASE_PREFIX
    ):
        return
    raise CommandError(
        f"seed_demo refuses to run on this {database.display_name} database ({name!r}): it runs "
        "only on the demo's own SQLite database (scripts/demo.sh makes it) or a test run's "
        f"throwaway one. It creates a superuser, 'support', whose password ({DEMO_PASSWORD}) is "
        "published in the README, and made-up patients."
    )


class Command(BaseCommand):
    help = "Create (or complete) the demo sites, clinicians, listings and referrals."

    def handle(self, *args, **options):
        # The production profile, directly or through a site's own settings built on it (which
        # had to force the sandbox past its own guard for this command to exist at all).
        if settings.SETTINGS_MODULE == PRODUCTION_SETTINGS or PRODUCTION_SETTINGS in sys.modules:
            raise CommandError(
                f"seed_demo refuses to run with the production settings ({PRODUCTION_SETTINGS}): "
                f"it creates a superuser, 'support', whose password ({DEMO_PASSWORD}) is "
                "published in the README, and made-up patients. Run it only on the demo's own "
                "database (scripts/demo.sh does)."
            )
        demo_database_or_refuse()
        with transaction.atomic():
            sites = self._sites()
            users = self._users(sites)
            listings = self._listings(sites)
            self._hrm(users, sites)
        self._referrals(users, listings)
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}):")
        for username, first, last, _pid, site in USERS:
            self.stdout.write(f"  {username:<10} {first} {last}, {site}")
        self.stdout.write("  support    support staff (Django admin at /admin/)")
        self.stdout.write(
            "A referrer without an account (Dr. Omar Haddad, walk-in clinic) reads and answers "
            f"their referral at {self.belanger_follow_url} with a code emailed to "
            "o.haddad@walkin.example (in var/mail/)."
        )

    def _sites(self):
        sites = {}
        for name, kind, email in SITES:
            sites[name], _ = Site.objects.get_or_create(
                name=name, defaults={"kind": kind, "notification_email": email}
            )
        return sites

    def _users(self, sites):
        users = {}
        for username, first, last, professional_id, site in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.org",
                    "professional_id": professional_id,
                    # As support would have checked them against the college's register.
                    "professional_id_verified_at": timezone.now() if professional_id else None,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            user.sites.add(sites[site])
            users[username] = user
        support, created = User.objects.get_or_create(
            username="support",
            defaults={
                "first_name": "Sam",
                "last_name": "Support",
                "is_staff": True,
                "is_superuser": True,
                "email": "support@example.org",
            },
        )
        if created:
            support.set_password(DEMO_PASSWORD)
            support.save(update_fields=["password"])
        return users

    def _listings(self, sites):
        listings = {}
        for name, service, site, requires_sign_in, clinician in LISTINGS:
            first, last, professional_id = clinician or ("", "", "")
            listings[name], _ = Listing.objects.get_or_create(
                site=sites[site],
                name=name,
                defaults={
                    "service": service,
                    "requires_sign_in": requires_sign_in,
                    "clinician_first_name": first,
                    "clinician_surname": last,
                    "clinician_professional_id": professional_id,
                },
            )
        return listings

    def _hrm(self, users, sites):
        """OntarioMD's receiver list (through the real import) and the senders support approved:
        Dr. Lee and Dr. Patel may send; Nurse Okafor has not asked yet."""
        if not HrmReceiver.objects.exists():
            rows = "\n".join(f"{pid},{first},{last}" for pid, first, last in RECEIVERS)
            receiver_list_import(
                content=f"Professional ID,First Name,Last Name\n{rows}\n".encode(),
                file_name="demo-hrm-receivers.csv",
                actor_name="seed_demo",
            )
        support = User.objects.get(username="support")
        for username, site, upi in SENDERS:
            user = users[username]
            if not SenderApproval.objects.filter(user=user, site=sites[site]).exists():
                sender_approval_enter(
                    user=user,
                    site=sites[site],
                    upi=upi,
                    actor=support,
                    note="Demo: UPI confirmed by OntarioMD's service desk.",
                )

    def _referral(self, key, **fields):
        """Create the referral once; a second run finds it by its fixed reference."""
        reference = uuid.uuid5(_NAMESPACE, key)
        existing = Referral.objects.filter(reference=reference).first()
        if existing:
            return existing, False
        referral = services.referral_create(**fields)
        Referral.objects.filter(pk=referral.pk).update(reference=reference)
        referral.reference = reference
        return referral, True

    def _referrals(self, users, listings):
        alice, grace, francois, priya, omar = (
            users["dr.nguyen"],
            users["rn.okafor"],
            users["dr.lee"],
            users["dr.patel"],
            users["dr.haddad"],
        )
        maple = listings["Dr. Alice Nguyen, Family Medicine"]
        intake = listings["Lakeshore Cardiology Central Intake"]
        cardiology = listings["St. Brigid's Cardiology, Dr. Lee"]
        ortho = listings["St. Brigid's Orthopaedics, Dr. Patel"]
        haddad = listings["Dr. Omar Haddad, Family Medicine"]

        referral, created = self._referral(
            "cardiology-forwarded",
            referrer_user=alice,
            referrer_listing=maple,
            target_listing=intake,
            patient_first_name="Hélène",
            patient_last_name="Tremblay",
            patient_birth_date=datetime.date(1961, 4, 18),
            patient_sex="F",
            patient_health_card_number="9876543217",
            patient_health_card_version="AB",
            reason="Exertional chest tightness for 3 months. ECG attached in chart; please assess.",
        )
        if created:
            services.referral_forward(referral=referral, to_listing=cardiology, actor=grace)
            services.message_post(
                referral=referral,
                author=grace,
                text="Triaged as semi-urgent and forwarded to Dr. Lee at St. Brigid's.",
            )
            services.referral_status_change(referral=referral, status="accepted", actor=francois)
            letter = consultation_letter_pdf(
                [
                    "St. Brigid's Hospital, Cardiology",
                    "Consultation letter",
                    "Patient: Helene Tremblay, born 1961-04-18",
                    "Dear Dr. Nguyen, thank you for this referral.",
                    "Impression: stable angina. Plan: stress test, start ASA 81 mg.",
                    "Dr. Francois Lee, CPSO 67890",
                ]
            )
            services.message_post(
                referral=referral,
                author=francois,
                text="Seen today. Consultation letter attached.\nStress test booked next week.",
                files=[SimpleUploadedFile("Consultation letter - Tremblay.pdf", letter)],
            )

        referral, created = self._referral(
            "ortho-public",
            target_listing=ortho,
            referrer_name="Dr. Omar Haddad",
            referrer_email="o.haddad@walkin.example",
            patient_first_name="François",
            patient_last_name="Bélanger",
            patient_birth_date=datetime.date(1978, 11, 2),
            patient_sex="M",
            patient_health_card_number="1234567897",
            patient_health_card_version="",
            reason="Right knee pain after a fall; MRI shows a meniscal tear.",
        )
        if created:
            services.message_post(
                referral=referral,
                author=priya,
                text="Received. We will book a clinic visit within 6 weeks.",
            )
            services.referral_status_change(referral=referral, status="accepted", actor=priya)
            services.referral_status_change(
                referral=referral,
                status="booked",
                actor=priya,
                appointment_at=timezone.make_aware(
                    datetime.datetime.combine(
                        timezone.localdate() + datetime.timedelta(days=21), datetime.time(9, 30)
                    )
                ),
            )
        # Its referrer has no account: the emails in var/mail/ link to this page, which emails
        # them a one-time code (the README's tour).
        self.belanger_follow_url = referrer_follow_url(referral)

        # Dr. Patel's letter goes via HRM to Dr. Haddad, whom the demo's HRM sandbox refuses
        # (hrm_sandbox --refuse-deliver-to D13579): the red "!" with its details and re-send.
        referral, created = self._referral(
            "ortho-refused",
            referrer_user=omar,
            referrer_listing=haddad,
            target_listing=ortho,
            patient_first_name="Olivia",
            patient_last_name="Côté",
            patient_birth_date=datetime.date(1955, 7, 9),
            patient_sex="F",
            patient_health_card_number="2345678904",
            patient_health_card_version="ZX",
            reason="Painful right hip since a fall in March.",
        )
        if created:
            services.referral_status_change(referral=referral, status="accepted", actor=priya)
            letter = consultation_letter_pdf(
                [
                    "St. Brigid's Hospital, Orthopaedic Surgery",
                    "Consultation letter",
                    "Patient: Olivia Cote, born 1955-07-09",
                    "Dear Dr. Haddad, X-rays show early osteoarthritis; physiotherapy first.",
                    "Dr. Priya Patel, CPSO 24680",
                ]
            )
            services.message_post(
                referral=referral,
                author=priya,
                text="Consultation letter attached.",
                files=[SimpleUploadedFile("Consultation letter - Cote.pdf", letter)],
            )

        self._referral(
            "ortho-new",
            referrer_user=alice,
            referrer_listing=maple,
            target_listing=ortho,
            patient_first_name="Wei",
            patient_last_name="Chen",
            patient_birth_date=datetime.date(1990, 1, 30),
            patient_sex="M",
            patient_health_card_number="4532015114",
            patient_health_card_version="KX",
            reason="Recurrent shoulder dislocation.",
        )
