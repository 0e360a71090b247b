"""What a run hands on: maps, figures, the workbook, the HTML/PDF report and the output folder.

``siting.outputs`` owns the folium maps and their layers and styles (``maps``, ``_maplayers``,
``_mapstyle``, ``_palette``, ``_assets`` for the inlined offline Leaflet), the matplotlib figures and the
static print map (``figures``, ``_staticmap``), the Excel workbook (``excel``, ``_workbook``), the HTML
report and its PDF through headless Chromium (``htmlreport``, ``_browser``), the writer child processes
(``_sidejob``, ``_writers``), the atomic output folder (``_outdir``), the whole coverage / siting / access
output sets (``report``, ``_access``). It reads results of ``siting.engine`` and ``siting.plan`` and may
import everything below it (``plan``, ``locate``, ``engine``, ``io``, the top-level leaves, and
``siting.pipeline``); never ``scenarios`` or ``cli``.
"""
