#include "clock.h"
#include "bare.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const char b62[] =
	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static uint32_t id_random;      /* < 62^4 */
static uint32_t id_counter;

void clock_init(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = (uint32_t)getpid() * 2654435761u ^ (uint32_t)clock_mono_ms();
	id_random = r % (62u * 62u * 62u * 62u);
	id_counter = (r >> 8) % (62u * 62u * 62u * 62u);
}

static int64_t ts_ms(clockid_t id)
{
	struct timespec ts;

	if (bare_clock_gettime(id, &ts) != 0)
		return 0;       /* cannot fail for these clocks on Linux */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
	return ts_ms(CLOCK_MONOTONIC);
}

int64_t clock_mono(void)
{
	return clock_mono_ms() / 1000;
}

int64_t clock_wall(void)
{
	return ts_ms(CLOCK_REALTIME) / 1000;
}

static void put_b62(char *p, uint64_t v, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = b62[v % 62];
		v /= 62;
	}
}

void clock_make_id(char id[SMTP_ID_MAX])
{
	int64_t ms = ts_ms(CLOCK_REALTIME);

	put_b62(id, ms < 0 ? 0 : (uint64_t)ms, 8);
	put_b62(id + 8, id_counter, 4);
	put_b62(id + 12, id_random, 4);
	id[16] = '\0';
	id_counter = (id_counter + 1) % (62u * 62u * 62u * 62u);
}
