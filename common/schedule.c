/* schedule.c: schedule maths, expiry and SLA (see schedule.h). */
#include "schedule.h"
