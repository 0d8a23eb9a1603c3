// @generated shape of `diesel print-schema` for migrations/.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        picture -> Nullable<Text>,
        session_epoch -> BigInt,
        created_at -> BigInt,
        display_name -> Nullable<Text>,
        bio -> Nullable<Text>,
        website -> Nullable<Text>,
        display_name_key -> Nullable<Text>,
        /// Kept by the database: lower(username).
        username_key -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Nullable<BigInt>,
        state -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        account -> Text,
        client -> Text,
        failed_at -> BigInt,
    }
}

diesel::table! {
    signups (id) {
        id -> BigInt,
        client -> Text,
        created_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(users, sessions, login_failures, signups);
