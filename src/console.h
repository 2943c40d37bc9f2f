/* console: the moderation console (CONSOLE=on), a page and its script and
 * style compiled into the binary (src/console/), served with a strict
 * Content-Security-Policy. The page asks for the API secret once per
 * browser tab (sessionStorage, never in the page's URL) and calls the
 * moderation, history and live routes with it (docs/operations.md). */
#ifndef GANOMEDE_CONSOLE_H
#define GANOMEDE_CONSOLE_H

#include "app.h"

/* GET .../console: the page, with the route prefix filled in. */
void console_page(struct app *app, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp);

/* GET .../console/:file: console.js, console.css or favicon.svg (404 for
 * anything else). */
void console_file(struct app *app, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp);

#endif
