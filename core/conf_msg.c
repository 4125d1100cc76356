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

void cm_mem(struct msg *m, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && m->n + 1 < sizeof(m->b); i++) {
		unsigned char ch = (unsigned char)s[i];
		m->b[m->n++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	m->b[m->n] = '\0';
}

void cm_s(struct msg *m, const char *s)
{
	cm_mem(m, s, strlen(s));
}

/* 'value', cut to CONF_SHOW_MAX */
void cm_q(struct msg *m, const char *s)
{
	size_t n = strlen(s);

	cm_s(m, "'");
	if (n > CONF_SHOW_MAX) {
		cm_mem(m, s, CONF_SHOW_MAX);
		cm_s(m, "...");
	} else {
		cm_mem(m, s, n);
	}
	cm_s(m, "'");
}


void cf_reportf(struct pctx *p, const char *file, unsigned line,
                const char *f, ...)
{
	char m[CONF_MSG_MAX];
	va_list ap;

	va_start(ap, f);
	fmt_vinto(m, sizeof m, f, ap);
	va_end(ap);
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
	struct msg m = { .n = 0 };

	cm_q(&m, val);
	cf_reportf(p, p->file, p->line, "%s: %s: %s", o->text, m.b, why);
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

/* "NAME: needs a value (NAME=ARG)" and the like: o's own texts, which
 * need no escaping (what the user wrote goes through cm_q()) */
void cf_report_form(struct pctx *p, const struct opt *o, const char *what)
{
	const char *arg = cf_text(o, T_ARG);

	cf_reportf(p, p->file, p->line, *arg ? "%s%s (%s=%s)" : "%s%s",
	           o->text, what, o->text, arg);
}
