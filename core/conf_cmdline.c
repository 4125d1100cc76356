/* see conf.h: conf_cmdline(), the command line through the option table */
#include <stdint.h>
#include <string.h>

#include "conf_int.h"

unsigned conf_cmdline(int argc, char **argv, struct conf_cmdline *cl,
                      conf_error_fn *err, void *ctx)
{
	struct pctx p = { .err = err, .ctx = ctx, .argv = 1 };
	char shown[3] = "-?";
	const char *why = NULL;
	int i;

	memset(cl, 0, sizeof(*cl));
	cl->conf_file = CONF_FILE_DEFAULT;
	for (i = 1; i < argc && !why && !cl->version && !cl->help; i++) {
		const char *a = argv[i], *val = NULL;
		const struct opt *o = NULL;

		p.file = a;
		if (strcmp(a, "--") == 0) {
			if (i + 1 < argc) {
				p.file = argv[i + 1];
				why = "unexpected argument";
			}
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			why = "unexpected argument (options are --option=value)";
			break;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a, '=');
			size_t n = eq ? (size_t)(eq - a) - 2 : strlen(a) - 2;

			o = n ? cf_argv_opt(a + 2, n) : NULL;
			if (!o) {
				/* a configuration option: after the file */
				argv[1 + cl->nargs++] = argv[i];
				continue;
			}
			if (eq && o->kind == K_FLAG) {
				cf_report_form(&p, o, ": takes no value");
				return p.errors;
			}
			val = eq ? eq + 1 : NULL;
			a = "";
		} else {
			a++;
		}
		/* "--name[=value]" once, or each letter of -ft, -cFILE */
		do {
			if (*a) {
				shown[1] = *a;
				p.file = shown;
				o = cf_argv_opt(a++, 0);
				if (!o) {
					why = "unknown option (try -h)";
					break;
				}
				val = *a ? a : NULL;
			}
			if (o->kind == K_FLAG) {
				*((uint8_t *)cl + o->off) = 1;
				continue;
			}
			/* -c, --conf-file: the value, or the next argument */
			if (!val && i + 1 < argc)
				val = argv[++i];
			if (!val || !*val)
				why = "needs a file name";
			else
				cl->conf_file = val;
			break;
		} while (*a && !cl->version && !cl->help);
	}
	if (why)
		cf_report(&p, why);
	return p.errors;
}
