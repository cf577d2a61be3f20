"""seed_scale adds customers to the simulator and syncs them into the portal."""

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer
from upstream.simulator.testing import SimulatorProcess

pytestmark = pytest.mark.django_db


def test_seed_scale_adds_customers_upstream_and_syncs_them(tmp_path, settings, partners):
    with SimulatorProcess(customers=20, seed=3, data_dir=tmp_path / "sim", rate_limit=0) as sim:
        settings.UPSTREAM_ENDPOINT = sim.url
        settings.UPSTREAM_RATE_LIMIT = 0
        before = sim.state()["customers"]["active"]
        call_command("seed_scale", customers=250)
        after = sim.state()["customers"]["active"]
    assert after == before + 250
    assert Customer.objects.filter(disassociated_at__isnull=True).count() == after
    # Spread over the distributor and its resellers, each mirrored under its own partner.
    for key in ("dist", "ra", "rb"):
        assert Customer.objects.filter(partner=partners[key]).count() > 20


def test_seed_scale_refuses_a_real_upstream(settings):
    settings.UPSTREAM_IS_SIMULATOR = False
    with pytest.raises(CommandError, match="simulator only"):
        call_command("seed_scale", customers=10)
