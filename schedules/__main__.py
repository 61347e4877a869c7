"""`python -m schedules`: the APScheduler runner (schedules/apscheduler.py)."""

import sys

from schedules.apscheduler import main

sys.exit(main())
