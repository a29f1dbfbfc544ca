/** The help texts: a module of its own, with no imports, so that --help loads nothing else. */

export const USAGE = `Usage: addrservice [serve] [options]
       addrservice keys create|list|revoke ...   (see addrservice keys --help)

Serves the address book REST API.

Options:
  -p, --port PORT      port to listen on (default 8080; 0 picks a free one)
      --host HOST      address to listen on (default 127.0.0.1)
  -c, --config FILE    YAML configuration file
      --db URL         store: memory:, sqlite:PATH or postgres://HOST/DB
                       (default sqlite:./var/addressbook.db)
      --auth MODE      who may call: none, api-key or jwt (required on a non-loopback host)
  -w, --workers N      serve from N processes sharing the port, or auto (one per CPU)
  -d, --debug          include stack traces in error responses (never in production)
  -h, --help           show this help and exit
  -v, --version        print the version and exit

Environment (below flags, above the config file):
  ADDRSERVICE_PORT, ADDRSERVICE_HOST, ADDRSERVICE_DB (or DATABASE_URL), ADDRSERVICE_WORKERS,
  ADDRSERVICE_LOG_LEVEL, ADDRSERVICE_AUTH_MODE, ADDRSERVICE_JWT_SECRET
`

export const KEYS_USAGE = `Usage: addrservice keys create --owner NAME [--scope read|write] [--label TEXT]
       addrservice keys list [--owner NAME]
       addrservice keys revoke ID

Manages the API keys of auth.mode api-key, in the store the server uses.

  create   makes a key for an owner's address book and prints it on stdout, once; the store
           keeps only its hash. --scope write (the default) may do everything, read only GET.
  list     shows id, owner, scope, label, created, last used and revoked of every key
           (or an owner's), as tab-separated columns under a header line.
  revoke   stops the key with this id (addr_<id>_...) on every instance within seconds.

Options:
  -c, --config FILE    YAML configuration file (its addr-db names the store)
      --db URL         the store: sqlite:PATH or postgres://HOST/DB
  -h, --help           show this help and exit
`
