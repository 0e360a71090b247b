"""The jobs file of ``siting batch``: read it, check every job before any work, expand it into tasks.

A jobs file is YAML::

    defaults:                 # optional: keys every job gets unless it sets them itself
      boundaries: ../boundaries.geojson
    jobs:
      - name: shanghai        # unique; the job's output folder
        osm: extract.osm      # or place: "徐汇区, 上海市"
        population: homes.csv
        districts: all        # one task per district of the boundaries (or a list; or district: 徐汇区)
      - name: plans
        scenarios: plans.yaml # every scenario of a `siting compare` file, as one task

Relative paths are relative to the jobs file. Whether input files exist is checked where the job runs
(on the worker: with a cluster the paths must be valid there), so a missing file fails only its job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._validate import range_problem, sheet_path, suggest
from .._yaml import read_yaml
from ..errors import InputFileError, OutputError, SitingError
from ..io.coords import normalize_crs
from ..io.demand import read_boundaries
from ..io.facilities import DEFAULT_TYPES
from ..outputs._outdir import safe_name, unique_names
from ..settings import Settings

#: Keys naming input files (resolved against the jobs file's folder).
PATH_KEYS = ("osm", "network", "facilities", "population", "census", "subdistrict_totals", "boundaries", "cache_dir",
             "scenarios", "age_shares")
#: Plain text keys.
TEXT_KEYS = ("name", "place", "facility_crs", "population_crs", "census_column", "district", "mode", "overpass_url",
             "nominatim_url", "facility_sheet")
#: Number keys, each checked against its span of :data:`siting._validate.RANGES` (as the CLI and the library do).
NUMBER_KEYS = ("speed_kmh", "minutes", "max_snap_m", "target")
#: True/false keys.
BOOL_KEYS = ("map", "dedupe", "spread_polygons", "allow_broken_network")
#: Every key a job may have, with what it means (for the README and the error messages).
JOB_KEYS: dict[str, str] = {
    "name": "job name, unique; also its output folder",
    "osm": "OpenStreetMap extract (.osm / .osm.pbf)",
    "place": "place name to download instead of osm (online)",
    "network": "your own road lines instead of osm/place (GeoPackage, shapefile, GeoJSON, GeoParquet; optional "
               "columns oneway, walk, bike, speed_kmh)",
    "overpass_url": "Overpass server for place (default $SITING_OVERPASS_URL, else osmnx's)",
    "nominatim_url": "Nominatim server for place (default $SITING_NOMINATIM_URL, else osmnx's)",
    "facilities": "facilities file (default: from the OSM file)",
    "facility_crs": "wgs84, gcj02 or bd09",
    "facility_sheet": "Excel sheet of facilities (or write book.xlsx#SHEET)",
    "facility_types": "types that count: a list or comma-separated text",
    "population": "population file (default: OSM residential buildings)",
    "population_crs": "wgs84, gcj02 or bd09",
    "dedupe": "drop population rows that repeat an earlier row exactly (default false)",
    "spread_polygons": "spread population polygons over 0.25 km² over a 200 m grid inside them (default false)",
    "census": "control totals per district/街道 (CSV)",
    "census_column": "column of census with the residents",
    "age_shares": "60+ shares per district/街道 (CSV): mode elderly counts residents aged 60+",
    "subdistrict_totals": "街道 totals (CSV, census or estimate), kept exactly within census",
    "boundaries": "街道 polygons (GeoJSON/GPKG)",
    "district": "restrict to one district",
    "districts": "'all' (every district of the boundaries) or a list: one task each",
    "mode": "walk, elderly or bike",
    "speed_kmh": "override the mode's speed",
    "minutes": "coverage threshold (default 15)",
    "max_snap_m": "largest off-network leg (default 500)",
    "target": "target share (0-1) instead of data/targets.csv",
    "cache_dir": "network cache folder",
    "allow_broken_network": "go on when over a quarter of the network is cut off (default false)",
    "map": "write map.html (default true)",
    "scenarios": "a scenario file (siting compare): runs every scenario of it as this job",
}
#: The keys of a ``scenarios`` job (its scenario file names the inputs; other keys in ``defaults`` are ignored).
SCENARIO_JOB_KEYS = ("name", "scenarios", "cache_dir", "map")
#: Arguments of :func:`siting.pipeline.load_inputs` a task passes on.
LOAD_KEYS = ("osm", "place", "network", "facilities", "facility_crs", "population", "population_crs", "census",
             "census_column", "subdistrict_totals", "boundaries", "cache_dir", "overpass_url", "nominatim_url",
             "dedupe", "spread_polygons", "allow_broken_network", "age_shares")


@dataclass(frozen=True)
class Task:
    """One unit of work: one coverage run, or every scenario of a scenario file.

    A coverage run is a job, or one district of a ``districts`` job; for a scenario file ``load`` holds
    ``scenarios``.

    ``folder`` is the output folder relative to the batch's ``--out``; ``error`` is set when the job
    could not even be expanded (e.g. ``districts: all`` with unreadable boundaries): it is reported,
    not run.
    """

    job: str
    area: str | None
    folder: str
    load: dict[str, Any]
    settings: Settings
    types: str
    target: float | None = None
    map_html: bool = True
    error: str | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        return self.job if self.area is None else f"{self.job}/{self.area}"


def read_jobs(path: str | Path) -> list[Task]:
    """Read and check a jobs file; return its tasks in file order.

    Raises
    ------
    InputFileError
        When the file is missing, not YAML, or any job is malformed: every problem is listed, each
        naming the job and the key.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputFileError(f"jobs file not found: {path}")
    doc = read_yaml(path, InputFileError)
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), list) or not doc["jobs"]:
        raise InputFileError(f"{path}: expected a mapping with a non-empty list 'jobs:' (see README, 'Batch runs')")
    problems = [f"unknown top-level key {key!r}{suggest(key, ['jobs', 'defaults'])}"
                for key in doc if key not in ("jobs", "defaults")]
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append("'defaults' must be a mapping of job keys")
        defaults = {}
    problems += [f"defaults: {p}" for p in _key_problems(defaults)]
    problems += [f"defaults: {key!r} must be set per job" for key in ("name", "scenarios") if key in defaults]
    jobs: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, raw in enumerate(doc["jobs"], start=1):
        if not isinstance(raw, dict):
            problems.append(f"job #{i}: expected a mapping of keys, got {type(raw).__name__}")
            continue
        job = {**defaults, **raw}
        label = f"job #{i} ({raw['name']!r})" if "name" in raw else f"job #{i}"
        found = _job_problems(raw, job, names)
        problems += [f"{label}: {p}" for p in found]
        if not found:
            names.add(str(job["name"]))
            jobs.append(job)
    if problems:
        listed = "\n  ".join(problems)
        raise InputFileError(f"{path}: {len(problems)} problem(s) in the jobs file:\n  {listed}")
    try:  # job names are folders: two that read alike on a case-insensitive disk are one folder
        unique_names((str(job["name"]).strip() for job in jobs), "job", "job")
    except OutputError as exc:
        raise InputFileError(f"{path}: {exc}") from None
    base = path.resolve().parent
    return [task for job in jobs for task in _expand(_resolve(job, base))]


def _key_problems(job: Mapping[str, Any]) -> list[str]:
    """Unknown keys and values of the wrong kind (names the key; no file is opened)."""
    out = []
    for key, value in job.items():
        if key not in JOB_KEYS:
            out.append(f"unknown key {key!r}{suggest(key, JOB_KEYS)}")
        elif value is None:
            out.append(f"key {key!r} has no value")
        elif key in PATH_KEYS + TEXT_KEYS and (isinstance(value, bool) or not isinstance(value, str | int)):
            out.append(f"key {key!r} must be text, got {value!r}")
        elif key in NUMBER_KEYS and range_problem(key, value):
            out.append(f"key {key!r} {range_problem(key, value)}")
        elif key in BOOL_KEYS and not isinstance(value, bool):
            out.append(f"key {key!r} must be true or false, got {value!r}")
        elif key == "facility_types" and not (isinstance(value, str) or (
                isinstance(value, list) and all(isinstance(v, str) for v in value))):
            out.append(f"key 'facility_types' must be a list or comma-separated text, got {value!r}")
        elif key == "districts" and value != "all" and not (
                isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            out.append(f"key 'districts' must be 'all' or a non-empty list of district names, got {value!r}")
        elif key in ("facility_crs", "population_crs"):
            out += _call_problem(key, normalize_crs, value)
    return out


def _job_problems(raw: Mapping[str, Any], job: dict[str, Any], names: set[str]) -> list[str]:
    """Everything wrong with one job (its own keys, then the combination with the defaults)."""
    found = _key_problems(raw)
    if found:
        return found
    name = str(job.get("name", "")).strip()
    if not name:
        found.append("key 'name' is missing")
    elif name in names:
        found.append(f"name {name!r} is used by an earlier job; names must be unique (they are folders)")
    elif name.startswith(".") or any(ch in name for ch in '/\\:*?"<>|'):
        found.append(f"name {name!r} must be usable as a folder name (no / \\ : * ? \" < > |, no leading dot)")
    if "scenarios" in job:
        return found + [f"key {key!r} does not apply to a 'scenarios' job (its scenario file names the inputs)"
                        for key in raw if key not in SCENARIO_JOB_KEYS]
    if sum(k in job for k in ("osm", "place", "network")) != 1:
        found.append("give exactly one of 'osm', 'place' or 'network'")
    if "district" in job and "districts" in job:
        found.append("give 'district' or 'districts', not both")
    if job.get("districts") == "all" and "boundaries" not in job:
        found.append("'districts: all' needs 'boundaries' (the file the districts are listed from)")
    if isinstance(job.get("districts"), list) and len(set(job["districts"])) < len(job["districts"]):
        found.append(f"key 'districts' lists a district twice: {job['districts']}")
    if "facility_sheet" in job:
        found += _call_problem("facility_sheet", lambda j: sheet_path(j.get("facilities"), j["facility_sheet"]), job)
    found += _call_problem("mode/speed_kmh/minutes/max_snap_m", _settings, job)
    return found


def _call_problem(key: str, check: Any, value: Any) -> list[str]:
    try:
        check(value)
    except SitingError as exc:
        return [f"key {key!r}: {exc}"]
    return []


def _settings(job: Mapping[str, Any]) -> Settings:
    return Settings(mode=str(job.get("mode", "walk")), speed_kmh=job.get("speed_kmh"),
                    minutes=float(job.get("minutes", 15.0)), max_snap_m=float(job.get("max_snap_m", 500.0)))


def _resolve(job: dict[str, Any], base: Path) -> dict[str, Any]:
    """Paths made absolute against the jobs file's folder (workers may run elsewhere)."""
    return {k: str((base / Path(str(v)).expanduser()).resolve()) if k in PATH_KEYS else v for k, v in job.items()}


def _expand(job: dict[str, Any]) -> list[Task]:
    """Return the tasks of one job: one per district of ``districts``, else one."""
    name, types = str(job["name"]).strip(), job.get("facility_types", ",".join(DEFAULT_TYPES))
    keys = ("scenarios", "cache_dir") if "scenarios" in job else LOAD_KEYS
    load = {("network_file" if k == "network" else k): job[k] if k in BOOL_KEYS else str(job[k])  # load_inputs' names
            for k in keys if k in job}
    if "facility_sheet" in job:  # what the table reader takes: book.xlsx#SHEET
        load["facilities"] = str(sheet_path(load["facilities"], str(job["facility_sheet"])))
    folder = safe_name(name, "job")
    if "scenarios" in job:
        return [Task(name, None, folder, load, Settings(), ",".join(DEFAULT_TYPES), None, bool(job.get("map", True)))]
    base = Task(name, None, folder, load, _settings(job), ",".join(types) if isinstance(types, list) else str(types),
                float(job["target"]) if "target" in job else None, bool(job.get("map", True)))
    wanted = job.get("districts")
    if wanted is None:
        one = job.get("district")
        return [base if one is None else replace(base, area=str(one), load={**load, "district": str(one)})]
    if wanted == "all":
        try:
            wanted = list_districts(job["boundaries"])
        except SitingError as exc:
            return [replace(base, error=f"districts: all: {exc}")]
    try:  # district names come from data: one folder each, inside the job's (never ../ or a/b)
        folders = unique_names(map(str, wanted), f"job {name!r}: district", "district")
    except OutputError as exc:
        return [replace(base, error=str(exc))]
    return [replace(base, area=str(d), folder=f"{folder}/{folders[str(d)]}", load={**load, "district": str(d)})
            for d in wanted]


def list_districts(boundaries: str | Path) -> list[str]:
    """Return the district names of a boundaries file, in order of first appearance."""
    table = read_boundaries(boundaries)
    if table["district"].isna().all():
        raise InputFileError(f"{boundaries}: no district column, so 'districts: all' has nothing to list")
    return [str(d) for d in dict.fromkeys(table["district"].dropna())]
