"""siting: 15-minute accessibility and siting of community health facilities from OpenStreetMap."""

from __future__ import annotations

from . import coords, errors, locate
from ._version import __version__ as __version__
from .access import AccessResult, access, access_from_coverage
from .candidates import build_candidates, candidates_from_osm, generate_candidates, read_candidates
from .coverage import DEFAULT_TYPES, CoverageResult, coverage
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

__all__ = [
    "AccessResult", "access", "access_from_coverage",
    "DEFAULT_TYPES", "FACILITY_TYPES", "MODES", "CoverageResult", "Inputs", "MaximalCoverage", "MinimumSites",
    "Network", "SitePlan", "SitingProblem", "SitingSolution", "Settings", "build_candidates", "candidates_from_osm",
    "generate_candidates", "greedy", "plan_sites", "problem_from_result", "read_candidates", "read_quotas",
    "score_candidates", "assign_areas", "boundaries_from_osm", "classify_facility", "coords", "coverage",
    "coverage_map", "errors", "facilities_from_osm", "load_inputs", "load_targets", "locate",
    "population_from_buildings", "read_boundaries", "read_census", "read_facilities", "read_population",
    "read_subdistrict_totals", "restrict_to_district", "run_coverage", "save_map", "spread_top_down", "target_for",
    "weight_by_census", "Baseline", "Comparison", "Scenario", "compare",
]
