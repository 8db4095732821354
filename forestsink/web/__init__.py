"""The bureau's web application: accounts, rights, the JSON API and pages.

Modules
-------
``app``
    :func:`~forestsink.web.app.create_app` (the Starlette application of one
    store) and :func:`~forestsink.web.app.serve` (uvicorn with N workers).
``settings``
    :class:`~forestsink.web.settings.Settings`: limits, the session secret,
    the upload folder.
``security``
    Sessions, CSRF tokens, the rights table, the security headers and the
    upload size limit.
``api``
    The ``/api/`` endpoints; each calls the same library function as the
    CLI command of the same name.
``progress_cache``
    The progress tables computed once per store state in the background,
    shared by the worker processes, served with their as-of state.

Layers: ``web`` sits beside ``cli`` at the top. It may import every other
part of forestsink (errors, reference, ingest, validate, store, progress,
render, deliveries) and the web stack (Starlette, uvicorn, itsdangerous,
python-multipart, argon2-cffi); nothing else in forestsink imports it, and
``import forestsink`` does not load it.
"""
