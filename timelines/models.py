"""The product's core: a workspace (a team) and who belongs to it."""

from django.conf import settings
from django.db import models, transaction


class WorkspaceQuerySet(models.QuerySet):
    def for_user(self, user):
        """Workspaces the user belongs to, as owner or member."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user).distinct()

    def by_ref(self, ref):
        """The workspace named by `ref`: its numeric id or its exact name.

        Admins script with names; ids disambiguate when a name looks like a number.
        """
        ref = str(ref).strip()
        if ref.isdigit():
            found = self.filter(pk=int(ref)).first()
            if found:
                return found
        return self.get(name=ref)


class Workspace(models.Model):
    name = models.CharField(max_length=100, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_workspaces"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @classmethod
    def create_for(cls, owner, name):
        """A new workspace with its owner as its first member."""
        with transaction.atomic():
            workspace = cls.objects.create(owner=owner, name=name)
            Membership.objects.create(workspace=workspace, user=owner, role=Membership.OWNER)
        return workspace

    def is_owner(self, user):
        return user.is_authenticated and user.pk == self.owner_id

    def is_member(self, user):
        """Owner or member: may view the workspace's pages."""
        if not user.is_authenticated:
            return False
        return self.memberships.filter(user=user).exists()

    def sync_owner_membership(self):
        """Make the owner a member with the owner role, and demote a previous owner to member.

        `create_for` does this for new workspaces; the admin calls it after an owner change.
        """
        with transaction.atomic():
            self.memberships.filter(role=Membership.OWNER).exclude(user=self.owner).update(
                role=Membership.MEMBER
            )
            Membership.objects.update_or_create(
                workspace=self, user=self.owner, defaults={"role": Membership.OWNER}
            )

    def add_member(self, user):
        membership, _ = Membership.objects.get_or_create(
            workspace=self, user=user, defaults={"role": Membership.MEMBER}
        )
        return membership


class Membership(models.Model):
    OWNER = "owner"
    MEMBER = "member"
    ROLES = [(OWNER, "Owner"), (MEMBER, "Member")]

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=ROLES, default=MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_membership_per_user")
        ]

    def __str__(self):
        return f"{self.user} in {self.workspace} ({self.role})"


class SiteAddress(models.Model):
    """The site's base URL as `make run ADDR=…` (manage.py demo --site-url) recorded it, so that
    every process — the web server, the worker, a command run from another shell — prints the
    same links. One row; SITE_URL from the environment wins over it (timelines.site)."""

    url = models.CharField(max_length=500)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "site address"
        verbose_name_plural = "site address"

    def __str__(self):
        return self.url


class Lease(models.Model):
    """The right to run a loop that must run once at a time (one of the paced sender's
    dispatchers, an outbound drain, the WAHA sweep), held by whoever wrote `token`, until
    `until`. Taken, renewed, handed over and released by timelines.workers, nowhere else: the
    token is also the fence its holder checks before a side effect that must not happen twice."""

    name = models.CharField(max_length=100, unique=True)
    token = models.CharField(max_length=64, blank=True)
    until = models.DateTimeField(null=True, blank=True)
    # Where it runs (host and process id) and since when, for the operators and for finding a
    # process that stopped answering; renewed_at is the holder's heartbeat.
    holder = models.CharField(max_length=200, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True)
    renewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Alarm(models.Model):
    """A moment a loop must be started at, whoever is running then: an outbound retry that falls
    due with no other traffic, say. Set (earliest wins) and rung once by timelines.keeper."""

    name = models.CharField(max_length=100, unique=True)
    at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Heartbeat(models.Model):
    """A qcluster worker process saying it is alive: its keeper thread (timelines.keeper)
    writes `beat_at` about every 10 s, whatever task the process is running. The newest beat is
    the readiness check's and the metrics' worker heartbeat (SPEC H1, H2); a process that died
    or froze stops beating, and its row is forgotten after a day (timelines.workers.beat)."""

    holder = models.CharField(max_length=200, unique=True)  # host:pid, as in Lease.holder
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-beat_at"]

    def __str__(self):
        return self.holder
