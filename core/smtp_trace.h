/*
 * The trace header fields (RFC 5321 4.4) and the text that goes into them.
 * Internal to core/smtp_*.c.
 */
#ifndef MAILNOOK_SMTP_TRACE_H
#define MAILNOOK_SMTP_TRACE_H

#include "smtp_engine.h"

/* Writes Return-Path: and Received: for the message just begun, through
 * the session's decoder (a failed write is the message's REJECT_STORE). */
void smtp_trace_headers(struct smtp_session *s);

/* Replaces control characters, C1 (UTF-8 C2 80..C2 9F) as "??", and with
 * ascii_only octets above 0x7e, by '?', in place. */
void smtp_sanitize(char *p, int ascii_only);

#endif
