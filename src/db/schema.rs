// @generated automatically by Diesel CLI.

diesel::table! {
    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        actor_id -> Nullable<Int8>,
        action -> Text,
        subject -> Text,
        client_addr -> Nullable<Text>,
        detail -> Jsonb,
    }
}
