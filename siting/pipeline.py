"""Wire the stages together from file names: what the CLI runs and what a notebook can call in one line."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._labels import describe_sources, file_year
from ._log import get_logger, timed
from .engine._cutoff import residents_cut_off
from .engine.coverage import DEFAULT_TYPES, CoverageResult, compute_coverage
from .engine.network import Network
from .errors import AreaWarning, CRSError, NetworkError, SitingError
from .io import _inputcache, ages, demand, totals
from .io._checks import OUTSIDE_AREA, duplicates_in_district
from .io._offsets import warn_if_offset, warn_if_population_offset, warn_unmatched_names
from .io.coords import normalize_crs
from .io.facilities import facilities_from_osm, facilities_from_place, read_facilities
from .settings import Settings

log = get_logger(__name__)


@dataclass
class Inputs:
    """Everything a coverage run needs, loaded and converted (WGS84 frames, a projected network)."""

    network: Network
    facilities: gpd.GeoDataFrame
    population: gpd.GeoDataFrame
    boundaries: gpd.GeoDataFrame | None
    notes: list[str]
    sources: list[dict[str, str | None]] = field(default_factory=list)


def load_inputs(
    *,
    osm: str | Path | None = None,
    place: str | None = None,
    facilities: str | Path | None = None,
    facility_crs: str = "wgs84",
    population: str | Path | None = None,
    population_crs: str = "wgs84",
    census: str | Path | None = None,
    census_column: str = "pop_census_2020",
    subdistrict_totals: str | Path | Iterable[str | Path] | None = None,
    boundaries: str | Path | None = None,
    district: str | None = None,
    settings: Settings | None = None,
    cache_dir: str | Path | None = None,
    network: Network | None = None,
    dedupe: bool = False,
    spread_polygons: bool = False,
    allow_broken_network: bool = False,
    cache_inputs: bool = False,
    overpass_url: str | None = None,
    nominatim_url: str | None = None,
    network_file: str | Path | None = None,
    age_shares: str | Path | None = None,
) -> Inputs:
    """Load network, facilities, population and 街道 boundaries from files (or a place name).

    Defaults when a file is not given: facilities and residential buildings from the OSM file
    itself, 街道 boundaries from its ``admin_level=8`` relations. Population from points without
    numbers is weighted by the ``census`` control totals (equal shares per point in each area); with
    no totals each point counts once (a share of locations, not residents). ``network``: the network
    already built from ``osm``/``place`` (batch runs reuse one per worker); built here when None.
    ``subdistrict_totals`` (街道 totals CSVs, :func:`siting.io.totals.read_subdistrict_totals`) are kept
    exactly inside the district totals (:func:`siting.io.totals.spread_top_down`); every point gets a
    ``population_source``. ``dedupe`` / ``spread_polygons``: see :func:`siting.io.demand.read_population`;
    ``allow_broken_network``: go on when more than a quarter of the network is cut off (see :func:`check_network`).
    ``cache_inputs``: also keep the prepared facilities, population and 街道 in the cache folder, keyed by the
    files' bytes, the options and siting's code, so the next run on the same inputs skips preparing them
    (what the CLI does; :mod:`siting.io._inputcache`). ``overpass_url`` / ``nominatim_url``: the servers of a
    ``place`` (else ``$SITING_OVERPASS_URL`` / ``$SITING_NOMINATIM_URL``, else osmnx's; :mod:`siting.io._online`).
    ``network_file``: the planner's own road lines instead of OSM (:meth:`Network.from_lines`; then ``facilities``,
    ``population`` and ``boundaries`` come from files only). ``age_shares``: 60+ shares per district / 街道
    (:func:`siting.io.ages.read_age_shares`) give each point its ``pop_60plus``, counted at mode ``elderly``.
    """
    settings = settings or Settings()
    if sum(x is not None for x in (osm, place, network_file)) != 1:
        raise SitingError("give exactly one of `osm` (a file), `place` (a name) or `network_file` (road lines)")
    check_crs(facility_crs=facility_crs, population_crs=population_crs)  # before the (slow) network
    with timed(log, "network ready"):
        net = network if network is not None else load_network(
            osm, place, settings, cache_dir, overpass_url=overpass_url, nominatim_url=nominatim_url,
            network_file=network_file)
    sub_files: list[str | Path] = (
        [subdistrict_totals] if isinstance(subdistrict_totals, str | Path) else list(subdistrict_totals or []))
    args: dict[str, Any] = {
        "osm": osm, "place": place, "facilities": facilities, "facility_crs": facility_crs, "population": population,
        "population_crs": population_crs, "census": census, "census_column": census_column, "sub_files": sub_files,
        "boundaries": boundaries, "district": district, "cache_dir": cache_dir, "dedupe": dedupe,
        "spread_polygons": spread_polygons, "network_file": network_file, "age_shares": age_shares}
    key = _inputcache.inputs_key(args) if cache_inputs and place is None else None
    with timed(log, "facilities, population and 街道 ready"):
        fac, pop, bnd, notes, sources = _inputcache.prepared(
        cache_dir, key, lambda: prepare_inputs(**args, overpass_url=overpass_url, nominatim_url=nominatim_url,
                                               buffer_m=settings.limit_m))
    check_network(net, allow_broken=allow_broken_network, population=pop, max_snap_m=settings.max_snap_m)
    return Inputs(net, fac, pop, bnd, notes, sources)


def prepare_inputs(
    *, osm: str | Path | None, place: str | None, facilities: str | Path | None, facility_crs: str,
    population: str | Path | None, population_crs: str, census: str | Path | None, census_column: str,
    sub_files: list[str | Path], boundaries: str | Path | None, district: str | None,
    cache_dir: str | Path | None, dedupe: bool, spread_polygons: bool, overpass_url: str | None = None,
    nominatim_url: str | None = None, buffer_m: float = 0.0, network_file: str | Path | None = None,
    age_shares: str | Path | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame | None, list[str], list[dict[str, str | None]]]:
    """Read and prepare everything but the network (see :func:`load_inputs`).

    Returns the facilities, population, 街道 (or None), notes and sources.
    """
    notes: list[str] = []
    if network_file is not None and facilities is None:
        raise SitingError("`facilities` (a file) is needed with `network_file` (road lines hold no facilities)")
    fac = load_facilities(facilities, facility_crs, osm, place, cache_dir, notes, overpass_url=overpass_url,
                          nominatim_url=nominatim_url, buffer_m=buffer_m)
    bnd = load_boundaries(boundaries, osm)
    if population is None and osm is None:
        raise SitingError(f"`population` (a file) is needed with `{'place' if place is not None else 'network_file'}`"
                          " (buildings are read from `osm` files only)")
    with area_warnings(district, bnd, notes), duplicates_in_district(district, bnd, notes):
        pop = load_population(population, population_crs, osm, bnd, notes, dedupe=dedupe,
                              spread_polygons=spread_polygons)
        census_totals = demand.read_census(census, column=census_column) if census is not None else None
        pop = apply_totals(pop, bnd, census_totals, sub_files)
        if age_shares is not None:
            pop = ages.apply_age_shares(pop, ages.read_age_shares(age_shares))
    if facilities is not None and bnd is not None and normalize_crs(facility_crs) == "wgs84":
        warn_if_offset(fac, bnd, facilities)
    if district is not None:
        if bnd is None:
            raise SitingError("`district` needs 街道 boundaries (`boundaries`, or an OSM file that has them)")
        pop, bnd = demand.restrict_to_district(pop, bnd, district)
    sources = describe_sources(osm=osm, place=place, facilities=facilities, population=population, census=census,
                               census_column=census_column, boundaries=boundaries)
    if network_file is not None:
        sources.insert(0, {"what": "路网 streets", "source": Path(network_file).name, "year": file_year(network_file)})
    if age_shares is not None:
        sources.append({"what": "老年人口占比 60+ shares", "source": Path(age_shares).name,
                        "year": file_year(age_shares)})
    sources += [{"what": "街道人口 subdistrict totals", "source": Path(f).name, "year": file_year(f)}
                for f in sub_files]
    return fac, pop, bnd, notes, sources


def check_crs(**given: str | None) -> None:
    """Raise CRSError naming the parameter whose coordinate system is unknown (``facility_crs='xx'``)."""
    for name, value in given.items():
        try:
            normalize_crs(value)
        except CRSError as exc:
            raise CRSError(f"`{name}`: {exc}") from None


def load_population(population: str | Path | None, population_crs: str, osm: str | Path | None,
                    boundaries: gpd.GeoDataFrame | None, notes: list[str], *, dedupe: bool = False,
                    spread_polygons: bool = False) -> gpd.GeoDataFrame:
    """Read the population file, else estimate residents from the ``osm`` file's buildings (saying so in ``notes``).

    With ``boundaries``, a file's own 街道 names that match none and WGS84 points that fit their districts
    better as GCJ-02/BD-09 are warned about (:func:`warn_unmatched_names`, :func:`warn_if_population_offset`).
    """
    if population is None:
        homes = demand.population_from_buildings(osm)  # type: ignore[arg-type]
        notes.append("residents estimated from OSM residential buildings (footprint × levels ÷ floor area)")
        return homes
    pop = demand.read_population(population, population_crs, dedupe=dedupe, spread_polygons=spread_polygons)
    if boundaries is not None:
        warn_unmatched_names(pop, boundaries, population)
        if normalize_crs(population_crs) == "wgs84":
            warn_if_population_offset(pop, boundaries, population)
    return pop


def apply_totals(pop: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame | None,
                 census_totals: pd.DataFrame | None, subdistrict_files: list[str | Path]) -> gpd.GeoDataFrame:
    """Weight the points by the control totals and label each point's ``population_source``.

    ``subdistrict_files`` (街道 totals) are kept exactly inside the district ``census_totals``
    (:func:`siting.io.totals.spread_top_down`); without them the census totals are spread over the points
    (:func:`siting.io.demand.prepare_population`). Age columns of points with their own figures are scaled alike.
    """
    had_figures = bool(pop.attrs.get("weighted")) and bool(pop["population"].notna().all())
    before = pop["population"].copy()
    if subdistrict_files:
        if boundaries is None:
            raise SitingError("`subdistrict_totals` needs 街道 boundaries (`boundaries`, or an OSM file that has them)")
        pop = totals.spread_top_down(demand.assign_areas(pop, boundaries), boundaries,
                                     totals.read_all(subdistrict_files), census_totals)
    else:
        pop = totals.label_sources(demand.prepare_population(pop, census_totals, boundaries=boundaries),
                                   had_figures=had_figures)
    return totals.scale_age_columns(pop, before) if had_figures else pop


def load_network(osm: str | Path | None, place: str | None, settings: Settings,
                 cache_dir: str | Path | None, *, overpass_url: str | None = None,
                 nominatim_url: str | None = None, network_file: str | Path | None = None) -> Network:
    """Build the street network for ``settings``' mode from the ``osm`` file, ``network_file``, else ``place``.

    A place's streets are downloaded with the longest trip around it (``settings.limit_m``), as ``siting extract``
    keeps them: walks near its edge may leave it.
    """
    if osm is not None:
        return Network.from_osm(osm, settings.mode, cache_dir=cache_dir)
    if network_file is not None:
        return Network.from_lines(network_file, settings.mode)
    return Network.from_place(str(place), settings.mode, cache_dir=cache_dir, buffer_m=settings.limit_m,
                              overpass_url=overpass_url, nominatim_url=nominatim_url)


def load_facilities(facilities: str | Path | None, facility_crs: str, osm: str | Path | None, place: str | None,
                    cache_dir: str | Path | None, notes: list[str], *, overpass_url: str | None = None,
                    nominatim_url: str | None = None, buffer_m: float = 0.0) -> gpd.GeoDataFrame:
    """Read the facilities file, else take them from the ``osm`` file or ``place`` (saying so in ``notes``)."""
    if facilities is not None:
        return read_facilities(facilities, crs=facility_crs)
    if osm is not None:
        notes.append(f"facilities taken from the OSM file {Path(osm).name}")
        return facilities_from_osm(osm)
    notes.append("facilities taken from OpenStreetMap (online)")
    return facilities_from_place(str(place), cache_dir=cache_dir, buffer_m=buffer_m, overpass_url=overpass_url,
                                 nominatim_url=nominatim_url)


def load_boundaries(boundaries: str | Path | None, osm: str | Path | None) -> gpd.GeoDataFrame | None:
    """Read the 街道 boundaries file, else the ``osm`` file's boundaries (None when neither has any)."""
    if boundaries is not None:
        return demand.read_boundaries(boundaries)
    if osm is None:
        return None
    bnd = demand.boundaries_from_osm(osm)
    return bnd if len(bnd) else None


def run_coverage(
    inputs: Inputs, settings: Settings | None = None, *, types: Iterable[str] | str | None = DEFAULT_TYPES,
    target: float | None = None,
) -> CoverageResult:
    """Coverage of ``inputs`` (see :func:`siting.compute_coverage`), with the loading notes attached."""
    with timed(log, "coverage computed"):
        result = compute_coverage(inputs.network, inputs.facilities, inputs.population, settings, types=types,
                                  boundaries=inputs.boundaries, target=target)
    return with_notes(result, inputs)


def with_notes(result: CoverageResult, inputs: Inputs) -> CoverageResult:
    """Attach the loading notes, the data's limits and the population sources to ``result`` (in place)."""
    notes = list(inputs.notes) + data_limits(inputs)
    unusable = result.summary.n_facilities_unusable
    if unusable:
        notes.append(f"{unusable} facilities lie off the street extract and are not counted: residents near the "
                     "extract's edge may in fact be served by them (edge effect)")
    attach_sources(result)
    missing = areas_without_facility(result, inputs.facilities, inputs.boundaries)
    if missing:
        notes.append("no facility at all in the facility file for " + "; ".join(
            f"{level} {', '.join(names)}" for level, names in missing.items()) + ": their rates say nothing about "
            "their services (is the facility file complete?)")
    result.summary = replace(result.summary, areas_without_facility=missing or None,
                             notes=tuple(notes + [totals.describe(result.points)]), sources=tuple(inputs.sources))
    return result


def attach_sources(result: CoverageResult) -> None:
    """Add ``population_source`` per 街道 to ``by_subdistrict``/``subdistricts`` and counts to the summary."""
    if "population_source" not in result.points.columns:
        return
    per_sub = totals.by_subdistrict(result.points)
    result.by_subdistrict["population_source"] = result.by_subdistrict["subdistrict"].map(per_sub)
    if result.subdistricts is not None:
        result.subdistricts["population_source"] = result.subdistricts["subdistrict"].map(per_sub)
    result.summary = replace(result.summary, population_sources=per_sub.value_counts().to_dict())


def data_limits(inputs: Inputs) -> list[str]:
    """Plain statements of what the data cannot show, for the report (never hidden)."""
    out: list[str] = []
    info: dict[str, Any] = inputs.network.info
    if info.get("source", "").endswith("shanghai_center_overpass_roads.osm"):
        out.append("the street network has no footways, paths or estate roads (residential→primary streets only): "
                   "walking times are conservative")
    if "type" in inputs.facilities and not inputs.facilities["type"].isin(["station"]).any():
        out.append("the facility list has no 社区卫生服务站 (stations)")
    if not bool(inputs.population.attrs.get("weighted", True)) and inputs.population.attrs.get("unit") == "locations":
        out.append("no population figures: rates are shares of locations, not of residents")
    return out


#: More than this share of the network's nodes, or of the residents near its streets, cut off in islands means
#: a broken extract.
MAX_DROPPED_SHARE = 0.25


def check_network(net: Network, *, allow_broken: bool = False, population: gpd.GeoDataFrame | None = None,
                  max_snap_m: float = 500.0) -> None:
    """Say how many node references the OSM file lacks; refuse a network that lost over a quarter of itself.

    A quarter of its nodes, or of the residents near its streets (``population``: whose nearest node was
    dropped, :func:`siting.engine._cutoff.residents_cut_off`); the message gives both shares. Missing nodes (a
    damaged or badly clipped extract) cut ways apart; the islands are dropped, and the coverage of the few
    residents near what is left can look perfect. ``allow_broken`` goes on anyway.
    """
    info = net.info
    missing = int(info.get("node_refs_missing", 0) or 0)
    dropped = int((info.get("dropped") or {}).get("nodes", 0))
    share = dropped / max(net.n_nodes + dropped, 1)
    cut, near = residents_cut_off(np.column_stack([net.x, net.y]), np.asarray((info.get("dropped") or {}).get(
        "xy", []), float).reshape(-1, 2), population, net.crs, max_snap_m) if population is not None else (0.0, 0.0)
    people = cut / near if near > 0 else 0.0
    source = Path(str(info.get("source", "the network"))).name
    said = (f"{source}: {missing:,} node reference(s) of its ways are missing from the file (a damaged or clipped "
            "extract); the ways are cut there") if missing else ""
    if max(share, people) > MAX_DROPPED_SHARE and not allow_broken:
        residents = (f", and with them {people:.0%} of the residents near its streets ({cut:,.0f} of {near:,.0f})"
                     if near > 0 else "")
        raise NetworkError(
            f"{source}: {share:.0%} of the network's nodes ({dropped:,}) are cut off in small islands and dropped"
            f"{residents}{'; ' + str(missing) + ' node reference(s) are missing from the file' if missing else ''}: "
            f"the coverage would describe only the {net.n_nodes:,} nodes left. Use a complete extract, or give "
            "allow_broken_network=True to go on anyway")
    if said:
        warnings.warn(said, stacklevel=3)


@contextmanager
def area_warnings(district: str | None, boundaries: gpd.GeoDataFrame | None, notes: list[str]) -> Iterator[None]:
    """Turn area warnings about the rest of a city-wide file into notes, with a ``district``.

    Area warnings (:class:`siting.errors.AreaWarning`) raised inside the block that name neither the
    district nor one of its 街道 become notes prefixed :data:`OUTSIDE_AREA`; every other warning is warned
    as usual.
    """
    if district is None or boundaries is None:
        yield
        return
    key = demand.district_key(district)
    inside = boundaries["district"].map(demand.district_key) == key
    names = {str(district), str(key)} | {str(n) for n in boundaries.loc[inside, "subdistrict"].dropna()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        text = str(w.message)
        if not issubclass(w.category, AreaWarning) or any(n and n in text for n in names):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        else:
            notes.append(OUTSIDE_AREA + text)


def areas_without_facility(result: CoverageResult, facilities: gpd.GeoDataFrame,
                           boundaries: gpd.GeoDataFrame | None) -> dict[str, list[str]]:
    """Districts and 街道 with residents but no facility of the file inside them (any type, usable or not)."""
    if boundaries is None or not len(boundaries) or not len(facilities):
        return {}
    placed = demand.assign_areas(facilities, boundaries)
    out: dict[str, list[str]] = {}
    for level, table in (("district", result.by_district), ("subdistrict", result.by_subdistrict)):
        if level not in table.columns or level not in placed.columns:
            continue
        have = {str(v) for v in placed[level].dropna()}
        empty = [str(v) for v, p in zip(table[level], table["population"], strict=True)
                 if v is not None and str(v) not in have and p > 0]
        if empty:
            out[level] = sorted(set(empty))
    return out
