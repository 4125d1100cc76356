/*
 * DATA and BDAT decoding; see smtp_data.h.
 *
 * The DATA machine (RFC 5321 4.1.1.4, 4.5.2, 2.3.8), one octet at a time:
 *
 *   BOL      at the start of a line; dec.bol_crlf says whether the line
 *            began after CRLF (or is the first line) or after a bare LF
 *   TEXT     inside a line
 *   CR       a CR was read; LF makes it a line end, anything else a bare CR
 *   DOT      the line began after CRLF and holds only the stuffing "."
 *   DOT_CR   ... followed by CR: an LF now is the end of data
 *
 *   BOL    "."  -> DOT when bol_crlf, else TEXT (the dot is undone anyway)
 *   BOL    any  -> as TEXT
 *   DOT    CR   -> DOT_CR;            DOT any -> as TEXT (dot undone)
 *   DOT_CR LF   -> end of data;       DOT_CR any -> bare CR, then as TEXT
 *   TEXT   CR   -> CR;  LF -> bare LF: a line end (written as LF, counted
 *                 2), or with strict-crlf an error -> BOL, bol_crlf 0;
 *                 NUL -> error;  other -> written, counted 1
 *   CR     LF   -> line end: written as LF, counted 2 -> BOL, bol_crlf 1
 *   CR     any  -> bare CR error, then as TEXT
 *
 * So only CRLF "." CRLF ends the data: a line that began after a bare LF
 * or a bare CR can never be the final ".", and "." followed by anything but
 * CRLF is text.  Errors never change the framing, so what follows a bad byte
 * is read as message text up to the real end, never as commands.
 *
 * Received: fields are counted on the decoded stream (LF line ends), in the
 * header section only: "received" at the start of a line, optional blanks,
 * then ":", case-insensitive.
 *
 * Nearly every octet of a message is plain text in the middle of a line, so
 * TEXT has a fast path (data_run): the run up to the next CR, LF or NUL is
 * copied while it is scanned, 16 octets or a word at a time, and counted
 * once, and in the body a CRLF followed by plain text is taken in the same
 * loop -- wherever the byte machine would do nothing but count and copy (no
 * Received: prefix being matched, the size limit not reached).  Its result
 * is octet for octet that of the byte machine; the unit tests compare the
 * two by feeding every transcript whole and one octet at a time.
 */
#include "smtp_data.h"

#include <string.h>

#include "text.h"

enum { DS_BOL = 0, DS_TEXT, DS_CR, DS_DOT, DS_DOT_CR };

#define HDR_DONE 0xff     /* dec.hdr_pos: this line is not a Received: */
#define WBUF_SIZE 2048

struct wbuf {
	struct smtp_decoder *d;
	size_t n;
	char b[WBUF_SIZE];
};

void smtp_data_init(struct smtp_decoder *d, uint64_t max_size, int strict_crlf,
                    int (*write)(void *ctx, const void *p, size_t n),
                    void *ctx)
{
	memset(d, 0, sizeof(*d));
	d->max_size = max_size;
	d->strict_crlf = (uint8_t)!!strict_crlf;
	d->write = write;
	d->ctx = ctx;
	d->state = DS_BOL;
	d->bol_crlf = 1;
	d->in_headers = 1;
	d->hdr_bol = 1;
	d->error = REJECT_NONE;
}

void smtp_data_error(struct smtp_decoder *d, enum smtp_reject e)
{
	if (d->error == REJECT_NONE)
		d->error = e;
}

void smtp_data_write(struct smtp_decoder *d, const void *p, size_t n)
{
	int r;

	if (d->error != REJECT_NONE || n == 0)
		return;
	r = d->write(d->ctx, p, n);
	if (r != SINK_OK) {
		d->store_result = (uint8_t)r;
		smtp_data_error(d, REJECT_STORE);
	}
}

static void wb_flush(struct wbuf *w)
{
	smtp_data_write(w->d, w->b, w->n);
	w->n = 0;
}

/* The first error: what was decoded before it is written first, so the
 * sink sees the same bytes however the input was cut. */
static void fail(struct wbuf *w, enum smtp_reject e)
{
	if (w->d->error == REJECT_NONE)
		wb_flush(w);
	smtp_data_error(w->d, e);
}

/* Follows the header section and counts Received: fields. */
static void hdr_scan(struct wbuf *w, unsigned c)
{
	struct smtp_decoder *d = w->d;

	static const char name[] = "received";

	if (!d->in_headers)
		return;
	if (d->hdr_bol) {
		if (c == '\n') {
			d->in_headers = 0;     /* the empty line ends the headers */
			return;
		}
		d->hdr_bol = 0;
		d->hdr_pos = 0;
	}
	if (c == '\n') {
		d->hdr_bol = 1;
		return;
	}
	if (d->hdr_pos == HDR_DONE)
		return;
	if (d->hdr_pos < sizeof(name) - 1) {
		d->hdr_pos = text_lower_c((int)c) == name[d->hdr_pos] ?
		             (uint8_t)(d->hdr_pos + 1) : HDR_DONE;
	} else if (c == ':') {
		d->hdr_pos = HDR_DONE;
		if (++d->received > SMTP_MAX_RECEIVED)
			fail(w, REJECT_LOOP);
	} else if (c != ' ' && c != '\t') {
		d->hdr_pos = HDR_DONE;
	}
}

/* One decoded octet; size is counted by the caller. */
static void emit(struct wbuf *w, unsigned c)
{
	struct smtp_decoder *d = w->d;

	if (d->error != REJECT_NONE)
		return;
	hdr_scan(w, c);
	if (d->error != REJECT_NONE)
		return;
	w->b[w->n++] = (char)c;
	if (w->n == sizeof(w->b))
		wb_flush(w);
}

static void count(struct wbuf *w, uint64_t n)
{
	struct smtp_decoder *d = w->d;

	d->size += n;
	if (d->size > d->max_size)
		fail(w, REJECT_SIZE);
}

/* A byte in the middle of a line (TEXT), also the fall-through of others. */
static void data_text(struct smtp_decoder *d, struct wbuf *w, unsigned c)
{
	switch (c) {
	case '\r':
		d->state = DS_CR;
		break;
	case '\n':
		if (d->strict_crlf) {
			fail(w, REJECT_BARE_LF);
		} else {
			count(w, 2);
			emit(w, '\n');
		}
		d->state = DS_BOL;
		d->bol_crlf = 0;
		break;
	case '\0':
		fail(w, REJECT_NUL);
		d->state = DS_TEXT;
		break;
	default:
		count(w, 1);
		emit(w, c);
		d->state = DS_TEXT;
		break;
	}
}

/* Copies the prefix of src[0..n) free of CR, LF and NUL to dst (when dst
 * is not NULL) and returns its length.  Sixteen octets at a time where the
 * compiler has vectors the CPU runs (SSE2, NEON), then a word at a time: a
 * word holds one of them when x, x ^ CRs or x ^ LFs has a zero octet (the
 * classic "has a zero byte" test, exact for the whole word).  A chunk is
 * stored before it is tested: dst[len..n) may be written too. */
static size_t copy_plain(uint8_t *dst, const uint8_t *src, size_t n)
{
	typedef unsigned long word;
	const word ones = (word)-1 / 0xff, highs = ones * 0x80;
	size_t i = 0;

#if defined(__GNUC__) && (defined(__SSE2__) || defined(__ARM_NEON))
	typedef unsigned char v16 __attribute__((vector_size(16)));
	typedef signed char v16_mask __attribute__((vector_size(16)));
	const v16 crs = { '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r',
	                  '\r', '\r', '\r', '\r', '\r', '\r', '\r', '\r' };
	const v16 lfs = crs - (v16){ 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3 };

	for (; n - i >= sizeof(v16); i += sizeof(v16)) {
		v16 x;
		v16_mask hit;
		uint64_t h[2];

		memcpy(&x, src + i, sizeof x);
		if (dst)
			memcpy(dst + i, &x, sizeof x);
		hit = (x == crs) | (x == lfs) | (x == 0);
		memcpy(h, &hit, sizeof h);
		if (h[0] | h[1])
			break;
	}
#endif
	for (; n - i >= sizeof(word); i += sizeof(word)) {
		word x, cr, lf;

		memcpy(&x, src + i, sizeof x);
		if (dst)
			memcpy(dst + i, &x, sizeof x);
		cr = x ^ (ones * '\r');
		lf = x ^ (ones * '\n');
		if (((x - ones) & ~x & highs) | ((cr - ones) & ~cr & highs)
		    | ((lf - ones) & ~lf & highs))
			break;
	}
	for (; i < n && src[i] != '\r' && src[i] != '\n' && src[i] != '\0'; i++)
		if (dst)
			dst[i] = src[i];
	return i;
}

/* The fast path of TEXT (see the top of this file): the octets it took
 * from p[0..n), 0 when the byte machine must read p[0].  Runs are copied
 * straight into w.  In the body it also takes a CRLF followed by a plain
 * octet other than ".": there the machine would only write LF, count 2 and
 * go on in TEXT. */
static size_t data_run(struct wbuf *w, const uint8_t *p, size_t n)
{
	struct smtp_decoder *d = w->d;
	const uint64_t max = d->max_size;
	size_t i = 0, len, take;

	if (d->error != REJECT_NONE) {
		len = copy_plain(NULL, p, n);   /* only counted, as by data_text() */
		d->size += len;
		return len;
	}
	if (d->in_headers && (d->hdr_bol || d->hdr_pos != HDR_DONE))
		return 0;
	for (;;) {
		/* no error, so size <= max; the octet past the limit is the
		 * byte machine's, which fails at exactly that octet */
		take = n - i;
		if (take > max - d->size)
			take = (size_t)(max - d->size);
		if (take > sizeof(w->b) - w->n)
			take = sizeof(w->b) - w->n;
		len = copy_plain((uint8_t *)w->b + w->n, p + i, take);
		w->n += len;
		d->size += len;
		i += len;
		if (w->n == sizeof(w->b))
			wb_flush(w);
		if (i == n || d->error != REJECT_NONE)
			return i;
		if (len == take) {
			if (d->size == max)
				return i;
			continue;               /* w was full: the run goes on */
		}
		if (d->in_headers || max - d->size < 2 || n - i < 3
		    || p[i] != '\r' || p[i + 1] != '\n' || p[i + 2] == '.'
		    || p[i + 2] == '\r' || p[i + 2] == '\n' || p[i + 2] == '\0')
			return i;
		w->b[w->n++] = '\n';
		d->size += 2;
		i += 2;
		if (w->n == sizeof(w->b))
			wb_flush(w);
		if (d->error != REJECT_NONE)
			return i;
	}
}

size_t smtp_data_feed(struct smtp_decoder *d, const uint8_t *p, size_t n,
                      int can_end, int *end)
{
	struct wbuf w;
	size_t i;

	w.d = d;
	w.n = 0;
	*end = 0;
	for (i = 0; i < n; i++) {
		unsigned c;

		if (d->state == DS_TEXT) {
			i += data_run(&w, p + i, n - i);
			if (i == n)
				break;
		}
		c = p[i];
		switch (d->state) {
		case DS_BOL:
			if (c == '.') {
				d->state = d->bol_crlf ? DS_DOT : DS_TEXT;
				break;
			}
			data_text(d, &w, c);
			break;
		case DS_DOT:
			if (c == '\r') {
				d->state = DS_DOT_CR;
				break;
			}
			data_text(d, &w, c);
			break;
		case DS_DOT_CR:
			if (c == '\n') {
				if (!can_end)
					goto out;
				*end = 1;
				i++;
				goto out;
			}
			/* the CR was bare */
			/* FALLTHROUGH */
		case DS_CR:
			if (c == '\n') {
				count(&w, 2);
				emit(&w, '\n');
				d->state = DS_BOL;
				d->bol_crlf = 1;
				break;
			}
			fail(&w, REJECT_BARE_CR);
			count(&w, 1);
			emit(&w, '\r');
			data_text(d, &w, c);
			break;
		default:
			data_text(d, &w, c);
			break;
		}
	}
out:
	wb_flush(&w);
	return i;
}

size_t smtp_bdat_feed(struct smtp_decoder *d, const uint8_t *p, size_t n,
                      int can_end)
{
	struct wbuf w;
	size_t i, take = n;

	if (take > d->chunk_left)
		take = (size_t)d->chunk_left;
	if (!can_end && take == d->chunk_left)
		take--;            /* the last octet waits for reply space */
	if (take == (size_t)-1)
		return 0;
	d->chunk_left -= take;
	if (d->chunk_reply || d->error != REJECT_NONE)
		return take;       /* discarded */
	w.d = d;
	w.n = 0;
	for (i = 0; i < take && d->error == REJECT_NONE; i++) {
		unsigned c;

		/* past the headers, only CR (CRLF -> LF), LF and NUL need a
		 * look: the run before them is copied as it is scanned */
		while (!d->in_headers && !d->pending_cr && i < take) {
			size_t k = take - i, len;

			if (k > sizeof(w.b) - w.n)
				k = sizeof(w.b) - w.n;
			len = copy_plain((uint8_t *)w.b + w.n, p + i, k);
			w.n += len;
			i += len;
			if (w.n == sizeof(w.b))
				wb_flush(&w);
			if (len < k || d->error != REJECT_NONE)
				break;
		}
		if (i == take || d->error != REJECT_NONE)
			break;
		c = p[i];
		if (c == '\0') {
			/* refused at the end, as in DATA (the LAST chunk) */
			fail(&w, REJECT_NUL);
			break;
		}
		if (c == '\n') {
			d->pending_cr = 0;
		} else if (d->pending_cr) {
			emit(&w, '\r');
			d->pending_cr = 0;
		}
		if (c == '\r')
			d->pending_cr = 1;
		else
			emit(&w, c);
	}
	wb_flush(&w);
	return take;
}

void smtp_bdat_finish(struct smtp_decoder *d)
{
	if (d->pending_cr) {
		struct wbuf w;

		w.d = d;
		w.n = 0;
		d->pending_cr = 0;
		emit(&w, '\r');
		wb_flush(&w);
	}
}
