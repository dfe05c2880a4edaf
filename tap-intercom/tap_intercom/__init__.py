"""Singer tap for the Intercom REST API."""

#: The distribution's name (`tap-intercom` on PyPI is another program); the executable is
#: `tap-intercom`.
DISTRIBUTION = "archivist-tap-intercom"
