/* console: the embedded files, by name; the page's %PREFIX% replaced. */
#include "console.h"

#include "embedded.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONSOLE_DIR "src/console/"

/* The embedded text of src/console/NAME, or NULL. */
static const char *console_text(const char *name)
{
    for (const struct embedded_file *f = EMBEDDED_FILES; f->path; f++)
        if (strncmp(f->path, CONSOLE_DIR, sizeof CONSOLE_DIR - 1) == 0 &&
            strcmp(f->path + sizeof CONSOLE_DIR - 1, name) == 0)
            return f->text;
    return NULL;
}

/* TEXT with every "%PREFIX%" replaced by "/PREFIX" (caller frees). */
static char *console_fill(const char *text, const char *prefix)
{
    static const char mark[] = "%PREFIX%";
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, mark)) != NULL; p += sizeof mark - 1)
        n++;
    size_t len = strlen(text) + n * (strlen(prefix) + 1) + 1;
    char *out = malloc(len), *w = out;
    if (!out)
        return NULL;
    for (const char *p = text, *hit; ; p = hit + sizeof mark - 1) {
        hit = strstr(p, mark);
        size_t chunk = hit ? (size_t)(hit - p) : strlen(p);
        memcpy(w, p, chunk);
        w += chunk;
        if (!hit)
            break;
        w += sprintf(w, "/%s", prefix);
    }
    *w = '\0';
    return out;
}

static void console_answer(struct http_response *resp, char *body, const char *type)
{
    if (!body) {
        http_response_error(resp, 500, "InternalServer", "");
        return;
    }
    resp->text = body;
    resp->content_type = type;
    resp->status = 200;
    resp->console = true;
}

void console_page(struct app *app, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp)
{
    (void)req;
    (void)m;
    const char *page = console_text("index.html");
    console_answer(resp, page ? console_fill(page, app->cfg->route_prefix) : NULL,
                   "text/html; charset=utf-8");
}

void console_file(struct app *app, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp)
{
    (void)app;
    (void)req;
    const char *name = m->subject ? m->subject : "";
    const char *type = strcmp(name, "console.js") == 0    ? "text/javascript; charset=utf-8"
                       : strcmp(name, "console.css") == 0 ? "text/css; charset=utf-8"
                       : strcmp(name, "favicon.svg") == 0 ? "image/svg+xml"
                                                          : NULL;
    const char *text = type ? console_text(name) : NULL;
    if (!text) {
        http_response_error(resp, 404, "ResourceNotFound", "no such console file");
        return;
    }
    console_answer(resp, strdup(text), type);
}
