DROP INDEX users_username_first4, users_username_first5, users_username_first6,
    users_username_first7, users_username_first8, users_username_first9, users_username_first10,
    users_username_first11, users_username_first12, users_display_name_first4,
    users_display_name_first5, users_display_name_first6, users_display_name_first7,
    users_display_name_first8, users_display_name_first9, users_display_name_first10,
    users_display_name_first11, users_display_name_first12;
