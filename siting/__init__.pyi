"""Public names of ``siting`` for type checkers and readers; ``__init__.py`` imports each on first use."""

from __future__ import annotations

from . import errors, locate, pipeline, plan, scenarios, settings
from ._version import __version__ as __version__
from .engine import coverage, network, routing, targets
from .engine.access import AccessResult, access, access_from_coverage
from .engine.coverage import DEFAULT_TYPES, CoverageResult, CoverageSummary, Status, compute_coverage
from .engine.network import Network
from .engine.targets import load_targets, target_for
from .io import coords, demand, facilities
from .io.demand import (
    assign_areas,
    boundaries_from_osm,
    population_from_buildings,
    read_boundaries,
    read_census,
    read_population,
    restrict_to_district,
    weight_by_census,
)
from .io.facilities import FACILITY_TYPES, classify_facility, facilities_from_osm, read_facilities
from .io.totals import read_subdistrict_totals, spread_top_down
from .locate import MaximalCoverage, MinimumSites, SitingProblem, SitingSolution, greedy, score_candidates
from .outputs import maps, report
from .outputs.maps import coverage_map, save_map
from .outputs.sensitivity import format_sensitivity, population_sensitivity
from .pipeline import Inputs, load_inputs, run_coverage
from .plan import candidates
from .plan.candidates import build_candidates, candidates_from_osm, generate_candidates, read_candidates
from .plan.sites import SitePlan, plan_sites, problem_from_result, read_quotas
from .scenarios.comparison import Baseline, Comparison, Scenario, compare
from .settings import MODES, Settings
from .workbench import Workbench
