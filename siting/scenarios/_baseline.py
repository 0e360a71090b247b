"""A scenario file's ``baseline:``: what ``siting coverage`` takes, one key per input flag of it.

Every input flag of ``siting coverage`` (the CLI's ``InputOptions``) has the key of the same name here and in a
batch jobs file, so a run set up with flags can be written as a scenario file or a batch job, and a message
that names an option (``dedupe``, ``allow_broken_network``) names a key the file accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._validate import sheet_path
from ..errors import SitingError
from ..settings import Settings
from ._values import FileSpec, Where, file_value, settings_fields

#: The keys of ``baseline:``: the input flags of ``siting coverage`` (``--network`` is ``network``) and ``target``.
BASELINE_KEYS = ("osm", "place", "network", "facilities", "facility_crs", "facility_sheet", "population",
                 "population_crs", "dedupe", "spread_polygons", "census", "census_column", "subdistrict_totals",
                 "age_shares", "boundaries", "district", "mode", "speed_kmh", "minutes", "target", "facility_types",
                 "max_snap_m", "overpass_url", "nominatim_url", "cache_dir", "allow_broken_network")
#: The true/false keys (each a switch of ``siting coverage``).
SWITCHES = ("dedupe", "spread_polygons", "allow_broken_network")


@dataclass(frozen=True)
class Baseline:
    """What ``siting coverage`` takes (file paths absolute), read from a file's ``baseline:`` mapping.

    ``facility_sheet`` picks the sheet of an Excel ``facilities`` workbook; ``dedupe``, ``spread_polygons`` and
    ``allow_broken_network`` are the switches of :func:`siting.pipeline.load_inputs`; ``cache_dir`` is the cache
    folder (a ``cache_dir`` given to :func:`siting.compare` or ``siting compare --cache-dir`` wins).
    """

    osm: Path | None = None
    place: str | None = None
    network_file: Path | None = None  # ``network:``, the planner's own road lines (Network.from_lines)
    facilities: FileSpec | None = None
    population: FileSpec | None = None
    census: Path | None = None
    census_column: str = "pop_census_2020"
    subdistrict_totals: tuple[Path, ...] = ()
    boundaries: Path | None = None
    district: str | None = None
    mode: str = "walk"
    speed_kmh: float | None = None
    minutes: float = 15.0
    target: float | None = None
    facility_types: tuple[str, ...] | None = None
    max_snap_m: float = 500.0
    overpass_url: str | None = None
    nominatim_url: str | None = None
    facility_sheet: str | None = None
    dedupe: bool = False
    spread_polygons: bool = False
    allow_broken_network: bool = False
    cache_dir: Path | None = None
    age_shares: Path | None = None  # 60+ shares per district / 街道 (siting.io.ages), counted at mode elderly

    @classmethod
    def from_dict(cls, data: object, *, base_dir: Path, file: str | None = None) -> Baseline:
        w = Where(file, None, base_dir)
        d = w.keys(data, BASELINE_KEYS, None, "`baseline`")
        if sum(k in d for k in ("osm", "place", "network")) != 1:
            raise w.error("osm", "give exactly one of `osm` (a file), `place` (a name to download) or `network` "
                                 "(your own road lines)")
        for key in ("facilities", "population"):
            if "network" in d and key not in d:
                raise w.error(key, f"a {key} file is needed with `network` (road lines hold neither)")
        if "place" in d and "population" not in d:
            raise w.error("population", "a population file is needed with `place`")
        if "census" in d and "population" not in d:
            raise w.error("census", "`census` totals weight a `population` file; give one")
        for key in SWITCHES:
            if key in d and not isinstance(d[key], bool):
                raise w.error(key, f"expected true or false, got {str(d[key])[:60]!r}")
        sheet = d.get("facility_sheet")
        if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, str | int)):
            raise w.error("facility_sheet", f"expected a sheet name, got {str(sheet)[:60]!r}")
        base = cls(
            osm=w.path("osm", d["osm"]) if "osm" in d else None,
            place=str(d["place"]) if "place" in d else None,
            network_file=w.path("network", d["network"]) if "network" in d else None,
            facilities=_file_with_crs(w, d, "facilities", "facility_crs"),
            population=_file_with_crs(w, d, "population", "population_crs"),
            census=w.path("census", d["census"]) if "census" in d else None,
            census_column=str(d.get("census_column", "pop_census_2020")),
            subdistrict_totals=tuple(w.path(f"subdistrict_totals[{i}]", p) for i, p in enumerate(
                _listed(w, "subdistrict_totals", d.get("subdistrict_totals")), start=1)),
            boundaries=w.path("boundaries", d["boundaries"]) if "boundaries" in d else None,
            district=str(d["district"]) if d.get("district") is not None else None,
            mode=str(d.get("mode", "walk")), speed_kmh=d.get("speed_kmh"), minutes=d.get("minutes", 15.0),
            target=d.get("target"), facility_types=d.get("facility_types"),
            max_snap_m=w.ranged("max_snap_m", d.get("max_snap_m", 500.0)),
            overpass_url=_url(w, "overpass_url", d.get("overpass_url")),
            nominatim_url=_url(w, "nominatim_url", d.get("nominatim_url")),
            facility_sheet=None if sheet is None else str(sheet),
            dedupe=bool(d.get("dedupe", False)), spread_polygons=bool(d.get("spread_polygons", False)),
            allow_broken_network=bool(d.get("allow_broken_network", False)),
            cache_dir=_folder(w, "cache_dir", d["cache_dir"]) if d.get("cache_dir") is not None else None,
            age_shares=w.path("age_shares", d["age_shares"]) if "age_shares" in d else None,
        )
        try:
            base.facilities_source()
        except SitingError as exc:
            raise w.error("facility_sheet", str(exc)) from None
        settings_fields(w, base)
        return base

    def settings(self) -> Settings:
        return Settings(mode=self.mode, speed_kmh=self.speed_kmh, minutes=float(self.minutes),
                        max_snap_m=self.max_snap_m)

    def facilities_source(self) -> str | Path | None:
        """Return the facilities file as the readers take it (``book.xlsx#Sheet`` with ``facility_sheet``)."""
        return sheet_path(self.facilities.path if self.facilities else None, self.facility_sheet)

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`siting.pipeline.load_inputs` (network, settings and ``cache_dir`` excluded)."""
        return {"facilities": self.facilities_source(),
                "facility_crs": self.facilities.crs if self.facilities else "wgs84",
                "population": self.population.path if self.population else None,
                "population_crs": self.population.crs if self.population else "wgs84",
                "census": self.census, "census_column": self.census_column,
                "subdistrict_totals": list(self.subdistrict_totals) or None, "boundaries": self.boundaries,
                "district": self.district, "network_file": self.network_file, "age_shares": self.age_shares,
                **self.online(),
                **{k: getattr(self, k) for k in SWITCHES}}

    def online(self) -> dict[str, str | None]:
        """Return the servers of a ``place`` baseline: ``overpass_url`` and ``nominatim_url`` (None: the default)."""
        return {"overpass_url": self.overpass_url, "nominatim_url": self.nominatim_url}


def _file_with_crs(w: Where, d: Mapping[str, Any], key: str, crs_key: str) -> FileSpec | None:
    """Return ``d[key]`` as a file, its coordinates from ``{path, crs}`` or from ``crs_key`` (both: they must agree)."""
    if key not in d:
        if crs_key in d:
            raise w.error(crs_key, f"gives the coordinates of a `{key}` file; there is none")
        return None
    spec = file_value(w, key, d[key])
    if crs_key not in d:
        return spec
    crs = w.crs(crs_key, d[crs_key])
    if isinstance(d[key], Mapping) and d[key].get("crs") is not None and spec.crs != crs:
        raise w.error(crs_key, f"{crs!r} differs from {key}.crs {spec.crs!r}; give the coordinates once")
    return FileSpec(spec.path, crs)


def _folder(w: Where, key: str, value: object) -> Path:
    """Return a folder path (relative to the scenario file's folder); it need not exist yet."""
    if not isinstance(value, str | Path) or not str(value).strip():
        raise w.error(key, f"expected a folder path, got {str(value)[:60]!r}")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else w.base_dir / path
    if path.exists() and not path.is_dir():
        raise w.error(key, f"{path} is a file, not a folder")
    return path.resolve()


def _url(w: Where, key: str, value: object) -> str | None:
    """Return a server address of the baseline (``overpass_url`` / ``nominatim_url``): http(s) text, or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip().lower().startswith(("http://", "https://")):
        raise w.error(key, f"expected an http(s) URL, e.g. https://overpass-api.de/api, got {value!r}")
    return value.strip()


def _listed(w: Where, key: str, value: object) -> list[object]:
    """Return a file or a list of files as a list (nothing: an empty list)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise w.error(key, f"expected a file path or a list of them, got {str(value)[:60]!r}")
    return value
