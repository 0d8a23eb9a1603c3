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
        email_confirmed -> Bool,
        moderator -> Bool,
        suspended_at -> Nullable<BigInt>,
        suspension_reason -> Nullable<Text>,
        totp_secret -> Nullable<Text>,
        totp_pending -> Nullable<Text>,
        totp_pending_at -> Nullable<BigInt>,
        totp_last_step -> Nullable<BigInt>,
        webauthn_handle -> Nullable<Text>,
        /// 0, 300 or 600: which renditions were made beside the picture (src/avatar/renditions.rs).
        picture_renditions -> Integer,
        /// The member lets other sites show their picture by their address (`/avatar/{hash}`).
        share_by_email -> Bool,
        /// Kept by src/db/users.rs: the address's hex MD5 and SHA-256 while it is shared and
        /// confirmed, else NULL.
        email_md5 -> Nullable<Text>,
        email_sha256 -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Nullable<BigInt>,
        state -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        user_agent -> Nullable<Text>,
        client -> Nullable<Text>,
        last_used_at -> Nullable<BigInt>,
        handle -> Nullable<Text>,
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

diesel::table! {
    email_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        purpose -> Text,
        token_hash -> Text,
        email -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    mail_requests (id) {
        id -> BigInt,
        address -> Text,
        client -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        kind -> Text,
        recipient -> Text,
        user_id -> Nullable<BigInt>,
        link_hash -> Nullable<Text>,
        detail -> Nullable<Text>,
        created_at -> BigInt,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    access_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        scope -> Text,
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    picture_uploads (id) {
        id -> BigInt,
        user_id -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    reports (id) {
        id -> BigInt,
        member_id -> BigInt,
        reporter_id -> Nullable<BigInt>,
        reason -> Text,
        comment -> Text,
        created_at -> BigInt,
        closed_at -> Nullable<BigInt>,
        closed_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    moderation_log (id) {
        id -> BigInt,
        created_at -> BigInt,
        moderator_id -> Nullable<BigInt>,
        moderator_name -> Text,
        member_id -> Nullable<BigInt>,
        member_name -> Text,
        action -> Text,
        reason -> Text,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    passkeys (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        credential_id -> Text,
        credential -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webauthn_challenges (id) {
        id -> Text,
        user_id -> Nullable<BigInt>,
        purpose -> Text,
        state -> Text,
        expires_at -> BigInt,
    }
}

diesel::joinable!(email_tokens -> users (user_id));
diesel::joinable!(access_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    login_failures,
    signups,
    email_tokens,
    mail_requests,
    outbox,
    picture_uploads,
    access_tokens,
    reports,
    moderation_log,
    recovery_codes,
    passkeys,
    webauthn_challenges
);
