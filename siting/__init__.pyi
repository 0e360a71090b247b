"""Public names of ``siting`` for type checkers and readers; ``__init__.py`` imports each on first use."""

from __future__ import annotations

from . import (
    candidates,
    coords,
    coverage,
    demand,
    errors,
    facilities,
    locate,
    maps,
    network,
    pipeline,
    plan,
    report,
    routing,
    scenarios,
    settings,
    targets,
)
from ._version import __version__ as __version__
from .access import AccessResult, access, access_from_coverage
from .candidates import build_candidates, candidates_from_osm, generate_candidates, read_candidates
from .coverage import DEFAULT_TYPES, CoverageResult, CoverageSummary, Status, compute_coverage
from .demand import (
    assign_areas,
    boundaries_from_osm,
    population_from_buildings,
    read_boundaries,
    read_census,
    read_population,
    restrict_to_district,
    weight_by_census,
)
from .facilities import FACILITY_TYPES, classify_facility, facilities_from_osm, read_facilities
from .locate import MaximalCoverage, MinimumSites, SitingProblem, SitingSolution, greedy, score_candidates
from .maps import coverage_map, save_map
from .network import Network
from .pipeline import Inputs, load_inputs, run_coverage
from .plan import SitePlan, plan_sites, problem_from_result, read_quotas
from .scenarios import Baseline, Comparison, Scenario, compare
from .settings import MODES, Settings
from .targets import load_targets, target_for
from .totals import read_subdistrict_totals, spread_top_down
