/* see conf_int.h: the parser's messages, its error reports and the field
 * splitter, shared by every conf*.c file (not in conf.c, since the files
 * conf.c calls use them too: no cycle between core/ objects) */
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "conf_int.h"
#include "fmt.h"
#include "text.h"

/* ---- messages, formatted without stdio ---- */

const char *cf_quote(char q[CONF_QUOTE_MAX], const char *s)
{
	char *o = q;
	size_t i;

	*o++ = '\'';
	for (i = 0; s[i] && i < CONF_SHOW_MAX; i++)
		*o++ = s[i];
	if (s[i]) {
		memcpy(o, "...", 3);
		o += 3;
	}
	memcpy(o, "'", 2);
	return q;
}

void cf_reportf(struct pctx *p, const char *file, unsigned line,
                const char *f, ...)
{
	char m[CONF_MSG_MAX], *c;
	va_list ap;

	va_start(ap, f);
	fmt_vinto(m, sizeof m, f, ap);
	va_end(ap);
	/* what the user wrote, in a value or a file name: a control
	 * character as '?' (a line may hold a tab) */
	for (c = m; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	p->errors++;
	if (p->err)
		p->err(p->ctx, file ? file : "(command line)", line, m);
}

void cf_report(struct pctx *p, const char *text)
{
	cf_reportf(p, p->file, p->line, "%s", text);
}

/* "NAME: 'VALUE': WHY" */
void cf_bad(struct pctx *p, const struct opt *o, const char *val,
            const char *why)
{
	char q[CONF_QUOTE_MAX];

	cf_reportf(p, p->file, p->line, "%s: %s: %s", o->text, cf_quote(q, val),
	           why);
}

void cf_arena_check(struct pctx *p, const char *file, unsigned line)
{
	struct mn_config *c = p->c;

	if (!c->arena->failed || c->arena_reported)
		return;
	c->arena_reported = 1;
	cf_reportf(p, file, line, "configuration too large for "
	           "CONFIG_CONF_ARENA_KB (the arena holds %zu bytes)",
	           (size_t)c->arena->size);
}
/* Trims spaces and tabs at both ends, in place. */
char *cf_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* The next comma-separated field of *cur, trimmed; NULL at the end. */
char *cf_next_field(char **cur)
{
	char *s = *cur, *comma;

	if (!s)
		return NULL;
	comma = strchr(s, ',');
	if (comma) {
		*comma = '\0';
		*cur = comma + 1;
	} else {
		*cur = NULL;
	}
	return cf_trim(s);
}

/* "NAME: needs a value (NAME=ARG)" and the like: o's own texts */
void cf_report_form(struct pctx *p, const struct opt *o, const char *what)
{
	const char *arg = cf_text(o, T_ARG);

	cf_reportf(p, p->file, p->line, *arg ? "%s%s (%s=%s)" : "%s%s",
	           o->text, what, o->text, arg);
}
