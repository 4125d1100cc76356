/* see conf_int.h: on-delivery=PROGRAM[,ARG...] (CONFIG_HOOK), read into an
 * argument vector in the arena */
#include <string.h>

#include "conf_int.h"

#if CFG_HOOK
/* The fields as given, commas apart and trimmed like every other option's
 * fields; nothing in them is special (no quoting, no shell): ";", "$(...)"
 * and spaces inside an argument reach the program as they are. */
void cf_argv_set(struct pctx *p, const struct opt *o, char *val)
{
	struct mn_config *c = p->c;
	const char *arg[CONF_HOOK_ARGS_MAX + 1];
	const char **v;
	char *cur = val, *f;
	size_t bytes = 0;
	unsigned n = 0, i;

	if (val[0] != '/') {
		cf_bad(p, o, val, "PROGRAM must be an absolute path");
		return;
	}
	while ((f = cf_next_field(&cur)) != NULL) {
		bytes += strlen(f) + 1;
		if (n == CONF_HOOK_ARGS_MAX || bytes > CONF_HOOK_ARGV_BYTES) {
			cf_bad(p, o, val, "more than " STR(CONF_HOOK_ARGS_MAX)
			       " fields or " STR(CONF_HOOK_ARGV_BYTES) " bytes");
			return;
		}
		arg[n++] = f;
	}
	v = arena_alloc(c->arena, (n + 1) * sizeof *v);
	if (!v)
		return;         /* the arena check reports it */
	for (i = 0; i < n; i++)
		if (!(v[i] = arena_strndup(c->arena, arg[i], strlen(arg[i]))))
			return;
	v[n] = NULL;
	c->on_delivery = v;
	c->on_delivery_at.file = p->file;
	c->on_delivery_at.line = p->line;
}
#endif
