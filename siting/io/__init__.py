"""Reading and preparing inputs: the first stage.

``siting.io`` owns everything that turns a user's files into checked, projected frames: OSM ways and tags
(``_osm``, ``_osmnet``), facilities (OSM tags, Chinese names, CSV/GeoJSON/Excel), population, census and
街道 control totals (``demand``, ``totals``, ``_buildings``), boundaries and the point → area join
(``_areas``), coordinates WGS84 ⇄ GCJ-02 ⇄ BD-09 (``coords``), table reading (``_tables``), input checks
(``_checks``), the local UTM zone (``_utm``) and the caches of downloads and prepared inputs (``_cache``,
``_inputcache``). It may import only the top-level leaves (``siting.errors``, ``siting._validate``,
``siting.settings``, ``siting._lazy``) — never the network engine or anything above it.
"""
