/*
 * The cmocka groups of the integration suite, one runner per topic file.
 * Each returns the number of failed tests of its group.
 */
#ifndef TESTS_H
#define TESTS_H

int run_config_tests(void);
int run_routes_tests(void);
int run_identity_tests(void);
int run_framing_tests(void);
int run_auth_tests(void);
int run_messages_tests(void);
int run_trim_tests(void);
int run_policies_tests(void);
int run_expiry_tests(void);
int run_record_tests(void);
int run_badinput_tests(void);
int run_notify_tests(void);
int run_redis_tests(void);
int run_import_tests(void);
int run_inbox_tests(void);
int run_live_tests(void);
int run_room_cache_tests(void);
int run_cli_tests(void);
int run_pooling_tests(void);
int run_logs_tests(void);
int run_ops_tests(void);
int run_shutdown_tests(void);
int run_faults_tests(void);
int run_migrations_tests(void);
int run_pgaudit_tests(void);
int run_outage_tests(void);
int run_cron_tests(void);
int run_replicas_tests(void);
int run_failover_tests(void);

#endif
