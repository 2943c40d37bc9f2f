/* libFuzzer target: configuration values from the environment. Each input
 * line is the value of one variable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "PORT", "MAX_MESSAGES", "ROUTE_PREFIX", "LOG_LEVEL",
                                         "ROOM_TTL_SECONDS", "NOTIFICATIONS_PORT_8080_TCP_PROTOCOL" };
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *line = text;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *nl = line ? strchr(line, '\n') : NULL;
        if (nl)
            *nl = '\0';
        if (line)
            setenv(names[i], line, 1);
        else
            unsetenv(names[i]);
        line = nl ? nl + 1 : NULL;
    }
    struct config cfg;
    char err[256];
    if (config_load(&cfg, err, sizeof err)) {
        if (cfg.port < 1 || cfg.port > 65535 || cfg.max_messages < 1)
            abort();
    } else if (!strchr(err, '_') && !strstr(err, "PORT")) {
        abort(); /* the message must name the variable */
    }
    free(text);
    return 0;
}
