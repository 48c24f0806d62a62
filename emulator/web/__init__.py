"""The playground's web front (issue 31): a page that works like Discord, served by the
emulator beside the API. ``app.py`` serves it, ``views.py`` builds what it draws,
``guard.py`` keeps it to this machine, ``panels.py`` says what a provider panel is."""
