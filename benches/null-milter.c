/* The protocol floor for benches/compare.sh: a libmilter filter that does nothing but what
 * every verifying milter must do to see a message, namely take the connection, the envelope,
 * every header and the whole body, and add one header at the end of the message (where a
 * verifier writes its Authentication-Results). It keeps, parses and checks nothing.
 *
 * OpenDKIM and OpenDMARC are built on libmilter, so this is the cost their protocol handling
 * has before any DKIM or DMARC work; authmilter's "no checks" row is the same job in its own
 * protocol code.
 *
 * build: cc -O2 -o null-milter null-milter.c -lmilter -lpthread   (Debian: libmilter-dev)
 * usage: null-milter local:/path/to/socket
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <libmilter/mfapi.h>

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx; (void)host; (void)addr;
	return SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx; (void)helo;
	return SMFIS_CONTINUE;
}

static sfsistat on_envelope(SMFICTX *ctx, char **argv)
{
	(void)ctx; (void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx; (void)name; (void)value;
	return SMFIS_CONTINUE;
}

static sfsistat on_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx; (void)chunk; (void)len;
	return SMFIS_CONTINUE;
}

static sfsistat on_eom(SMFICTX *ctx)
{
	if (smfi_insheader(ctx, 0, "Authentication-Results", "null.invalid; none") != MI_SUCCESS)
		return SMFIS_TEMPFAIL;
	return SMFIS_ACCEPT;
}

static sfsistat on_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
	struct smfiDesc desc = {
		"null-milter", SMFI_VERSION, SMFIF_ADDHDRS,
		on_connect, on_helo, on_envelope, on_envelope, on_header, on_eoh, on_body,
		on_eom, on_abort, on_close, NULL, NULL, NULL,
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s local:/path/to/socket\n", argv[0]);
		return 2;
	}
	umask(007);
	if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS) {
		fprintf(stderr, "null-milter: cannot set up %s\n", argv[1]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
