/* envdeny.h: [tasks] env_deny, the glob patterns naming variables a task's environment never stores. */
#ifndef DEPOT_ENVDENY_H
#define DEPOT_ENVDENY_H
#include <stddef.h>

/*
 * What depot.conf's env_deny is when it does not say: names that hold
 * secrets by convention, and the agent sockets that stand for them. A
 * submitter's variable matching one is dropped before the task is stored,
 * so a token exported in a shell never reaches the database, a backup or
 * `task show`. Patterns are fnmatch(3) globs, matched without regard to
 * case, separated by spaces.
 */
#define ENV_DENY_DEFAULT \
	"*TOKEN* *PASSWORD* *PASSWD* *PASSPHRASE* *SECRET* *CREDENTIAL* " \
	"*_KEY *_KEY_* *APIKEY* *API_KEY* *_PWD AWS_* AZURE_* VAULT_* " \
	"SSH_AUTH_SOCK GPG_AGENT_INFO KRB5CCNAME"
/* Longest env_deny value, most patterns in it, longest pattern. */
#define ENV_DENY_MAX_BYTES 4095
#define ENV_DENY_MAX_PATTERNS 256
#define ENV_DENY_PATTERN_MAX 255

/* Names longer than this less one are matched by fnmatch alone. */
#define ENV_DENY_NAME_FOLDED 1024

/*
 * A list read once for many names (every variable of every submission):
 * each pattern kept with, when it is text with '*' only at its ends, that
 * text folded to lower case, so most names meet no fnmatch.
 */
enum envdeny_kind { ENVDENY_IS, ENVDENY_STARTS, ENVDENY_ENDS, ENVDENY_WITHIN, ENVDENY_GLOB };
struct envdeny {
	size_t n;
	struct envdeny_pattern {
		enum envdeny_kind kind;
		size_t glob;		/* the pattern as written: its offset in buf */
		size_t text;		/* the folded text between the stars: its offset */
		size_t len;		/* and its length */
	} pat[ENV_DENY_MAX_PATTERNS];
	char buf[2 * (ENV_DENY_MAX_BYTES + 1)];
};

/* Whether patterns (space-separated globs) is a usable env_deny; -1 with err saying why. */
int envdeny_check(const char *patterns, char *err, size_t errlen);
/* d holds patterns, read once (a pattern longer than envdeny_check allows is left out). */
void envdeny_compile(struct envdeny *d, const char *patterns);
/* Whether name matches one of d's patterns, as fnmatch(3) with FNM_CASEFOLD says. */
int envdeny_matches(const struct envdeny *d, const char *name);
/*
 * Whether name matches one of patterns (a list envdeny_check allows),
 * case ignored; an empty list matches nothing.
 */
int envdeny_match(const char *patterns, const char *name);

#endif
