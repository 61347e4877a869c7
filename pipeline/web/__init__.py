"""The web dashboard and the JSON admin API (see `pipeline.web.app`)."""
