/* text_date(): UTC date and time from UNIX time, checked against the C
 * library's gmtime_r over every day from year 1 to 9999, at a second
 * near each end of the day and a few more, before and after 1970. */
#include <stdint.h>
#include <time.h>

#include "tap.h"
#include "text.h"

static int same(int64_t t)
{
	struct text_date d;
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm))
		return 0;
	text_date(t, &d);
	return d.year == (int64_t)tm.tm_year + 1900 && d.mon == (unsigned)tm.tm_mon + 1
	       && d.mday == (unsigned)tm.tm_mday && d.hour == (unsigned)tm.tm_hour
	       && d.min == (unsigned)tm.tm_min && d.sec == (unsigned)tm.tm_sec
	       && d.wday == (unsigned)tm.tm_wday;
}

int main(void)
{
	/* 0001-01-01 to 9999-12-31 */
	const int64_t first = -62135596800LL, last = 253402300799LL;
	static const int64_t more[] = { 0, -1, 1, 86399, 86400, -86400, -86401,
	                                951868799, 951868800, 2147483647,
	                                2147483648LL, 4107542400LL };
	struct text_date d;
	int64_t day, bad = 0, days = 0;
	size_t i;

	for (day = first; day <= last; day += 86400, days++) {
		bad += !same(day);
		bad += !same(day + 86399);
		bad += !same(day + (days * 7919) % 86400);
	}
	ok(bad == 0, "every day of years 1-9999, three times each: as gmtime_r "
	   "(%lld days, %lld differ)", (long long)days, (long long)bad);
	for (i = 0; i < sizeof more / sizeof more[0]; i++)
		ok(same(more[i]), "%lld as gmtime_r", (long long)more[i]);
	text_date(-62135596801LL, &d);
	ok(d.year == 0 && d.mon == 12 && d.mday == 31 && d.hour == 23
	   && d.sec == 59 && d.wday == 0, "the second before year 1: 0000-12-31, a Sunday");
	text_date(INT64_MAX, &d);
	ok(d.mon >= 1 && d.mon <= 12 && d.mday >= 1 && d.mday <= 31 && d.hour < 24
	   && d.wday < 7, "INT64_MAX: fields in range");
	text_date(INT64_MIN, &d);
	ok(d.mon >= 1 && d.mon <= 12 && d.mday >= 1 && d.mday <= 31 && d.hour < 24
	   && d.wday < 7, "INT64_MIN: fields in range");
	return tap_done();
}
