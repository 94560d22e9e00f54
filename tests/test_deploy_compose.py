"""deploy/compose.yaml cannot be run here (no Docker daemon), so it is read: every variable it sets
for the app's services is one the settings read, WAHA and the app share their API key, each
points at the other, and README's "Run it for real" names every service it runs."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = {name for name, service in SERVICES.items() if "build" in service}


def settings_read():
    """The environment variables timelines/settings.py reads (env.str("NAME", ...) and alike)."""
    source = (ROOT / "timelines" / "settings.py").read_text()
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source))


def environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_the_app_services_are_the_web_app_its_workers_and_the_migration():
    assert APP_SERVICES == {"app", "worker", "migrate"}
    assert "gunicorn" in SERVICES["app"]["command"] and "qcluster" in SERVICES["worker"]["command"]
    assert "ports" not in SERVICES["worker"]  # workers scale: --scale worker=N
    assert "gunicorn" in (ROOT / "Dockerfile").read_text()


def test_every_variable_set_for_the_app_is_one_the_settings_read():
    read = settings_read()
    assert {"DATABASE_URL", "REDIS_URL", "WAHA_URL", "WAHA_API_KEY"} <= read
    for name in APP_SERVICES:
        unknown = set(environment(SERVICES[name])) - read
        assert not unknown, f"{name} sets {unknown}, which the settings never read"


def test_the_app_reaches_postgres_redis_and_waha_and_waha_reaches_the_app():
    app, waha = environment(SERVICES["app"]), environment(SERVICES["waha"])
    assert app["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in app["DATABASE_URL"]
    assert app["REDIS_URL"].startswith("redis://redis:")
    assert app["WAHA_URL"] == "http://waha:3000"
    assert app["WAHA_WEBHOOK_BASE_URL"] == "http://app:8000"
    assert "app" in app["ALLOWED_HOSTS"].split(",")  # WAHA's posts say Host: app:8000
    key = re.search(r"\$\{(WAHA_API_KEY)\b", app["WAHA_API_KEY"]).group(1)
    assert waha["WAHA_API_KEY"] == "${" + key + "}"
    assert app["DEBUG"] == "false" and "SECRET_KEY" in app
    assert {"db", "redis", "waha"} <= set(SERVICES)


def test_the_readme_names_every_service_and_links_the_operators_guide():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Run it for real", 1)[1].split("\n## ", 1)[0]
    assert len(section.strip().splitlines()) <= 12
    for name in SERVICES:
        assert f"`{name}`" in section, f"README's Run it for real does not name {name}"
    assert "docs/operators-waha.md" in section and (ROOT / "docs" / "operators-waha.md").exists()
    assert "deploy/compose.yaml" in section


def test_the_operators_guide_names_every_service_and_setting_it_relies_on():
    guide = (ROOT / "docs" / "operators-waha.md").read_text()
    for name in SERVICES:
        assert f"`{name}`" in guide
    for setting in ("WAHA_URL", "WAHA_API_KEY", "WAHA_WEBHOOK_BASE_URL", "WAHA_SWEEP_CHATS"):
        assert setting in guide and setting in settings_read()


def test_the_web_app_and_the_workers_share_the_uploads_directory():
    """A file attached on the chat page is saved by the web app and sent by a worker: both mount
    one volume at MEDIA_ROOT, which the image's user may write."""
    media = "/app/media"  # MEDIA_ROOT's default in the image (BASE_DIR is /app)
    for name in ("app", "worker"):
        mounts = SERVICES[name].get("volumes") or []
        volumes = [m.split(":")[0] for m in mounts if m.split(":")[1] == media]
        assert volumes and volumes[0] in COMPOSE["volumes"], name
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "chown timelines media" in dockerfile
    assert dockerfile.index("chown timelines media") < dockerfile.index("USER timelines")


def test_waha_writes_file_links_the_app_can_reach_and_keeps_the_files_long_enough():
    """SPEC M1: WAHA puts its WAHA_BASE_URL into every media.url; it must be WAHA's address on
    the app's network (the app's WAHA_URL), with the key sent only there; and its copy must
    outlive a worker restart (WHATSAPP_FILES_LIFETIME, 180 s by default)."""
    waha = environment(SERVICES["waha"])
    app = environment(SERVICES["app"])
    assert waha["WAHA_BASE_URL"] == app["WAHA_URL"] == "http://waha:3000"
    lifetime = re.fullmatch(r"\$\{WAHA_FILES_LIFETIME:-(\d+)\}", waha["WHATSAPP_FILES_LIFETIME"])
    assert lifetime and int(lifetime.group(1)) >= 600
    assert "WAHA_FILES_LIFETIME=" in (ROOT / "deploy" / "example.env").read_text()


def test_every_app_service_mounts_the_one_storage():
    for name in APP_SERVICES - {"migrate"}:
        assert "media:/app/media" in SERVICES[name]["volumes"], name
