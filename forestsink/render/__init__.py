"""Rendering: static maps, interactive maps, the report and the workbook.

Static maps (PNG, SVG, PDF; matplotlib): :mod:`~forestsink.render.static`
draws the choropleth and is the ``forestsink map`` tool, with its parts in
:mod:`~forestsink.render.fonts` (CJK fonts),
:mod:`~forestsink.render.classification` (class breaks),
:mod:`~forestsink.render.labels` (district names),
:mod:`~forestsink.render.furniture` (title, legend, note, scale bar, north
arrow) and :mod:`~forestsink.render.map_inputs` (the tables and subtitles
a map shows). Interactive maps (folium, offline): :mod:`~forestsink.render.map`
and :mod:`~forestsink.render.offline`. The officials' HTML report:
:mod:`~forestsink.render.report` (templates in ``templates/``),
:mod:`~forestsink.render.coverage_layer` and
:mod:`~forestsink.render.sample_section` (the sample-based areas). Result workbooks:
:mod:`~forestsink.render.workbook`.

Layers: ``render`` may import every layer below it (carbon, inventory,
sampling, progress, coverage, landing, store, validate, ingest, reference,
io, scale, area, errors, units, version), never ``web`` or ``cli``. This
``__init__`` imports none of its modules, so that importing one does not
load the others (matplotlib and folium are loaded only when drawing).
"""
