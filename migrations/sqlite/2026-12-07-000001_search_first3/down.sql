DROP INDEX users_username_first3;
DROP INDEX users_display_name_first3;
