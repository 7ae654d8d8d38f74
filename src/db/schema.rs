// @generated automatically by Diesel CLI.

diesel::table! {
    alerts (id) {
        id -> Int8,
        integration_id -> Int8,
        fingerprint -> Text,
        group_key -> Text,
        alertname -> Text,
        ticket_id -> Nullable<Int8>,
        status -> Text,
        fire_count -> Int4,
        starts_at -> Nullable<Timestamptz>,
        ends_at -> Nullable<Timestamptz>,
        received -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Int8,
        user_id -> Int8,
        name -> Text,
        token_hash -> Text,
        prefix -> Text,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        kind -> Text,
    }
}

diesel::table! {
    alert_inbox (id) {
        id -> Int8,
        integration_id -> Int8,
        external_url -> Text,
        alerts -> Jsonb,
        alert_count -> Int4,
        received_at -> Timestamptz,
        state -> Text,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        finished_at -> Nullable<Timestamptz>,
        receipt -> Nullable<Jsonb>,
    }
}

diesel::table! {
    arrival_triage (ticket_id) {
        ticket_id -> Int8,
        user_id -> Int8,
        query -> Text,
        alertname -> Text,
        runbook_key -> Nullable<Text>,
        queued_at -> Timestamptz,
    }
}

diesel::table! {
    attachments (id) {
        id -> Int8,
        ticket_id -> Int8,
        entry_id -> Nullable<Int8>,
        filename -> Text,
        content_type -> Text,
        size -> Int4,
        data -> Bytea,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

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

diesel::table! {
    calendar_feeds (user_id) {
        user_id -> Int8,
        token_hash -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    debt_weeks (week_start) {
        week_start -> Date,
        debt -> Int8,
        last_event -> Int8,
        computed_at -> Timestamptz,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Int8,
        channel -> Text,
        recipient -> Text,
        event -> Text,
        ticket_id -> Nullable<Int8>,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Text,
        created_at -> Timestamptz,
        done_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    delivery_attempts (id) {
        id -> Int8,
        delivery_id -> Int8,
        at -> Timestamptz,
        ok -> Bool,
        detail -> Text,
    }
}

diesel::table! {
    escalations (id) {
        id -> Int8,
        ticket_id -> Int8,
        from_id -> Int8,
        to_user_id -> Nullable<Int8>,
        to_team -> Text,
        followed_model -> Text,
        step_reached -> Nullable<Int4>,
        reason -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    form_flashes (id) {
        id -> Int8,
        token_hash -> Text,
        user_id -> Int8,
        ticket_id -> Int8,
        field -> Text,
        message -> Text,
        draft -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    improvement_events (id) {
        id -> Int8,
        improvement_id -> Int8,
        actor_id -> Nullable<Int8>,
        at -> Timestamptz,
        action -> Text,
        detail -> Jsonb,
        priority -> Int2,
        status -> Text,
        due_on -> Nullable<Date>,
    }
}

diesel::table! {
    improvements (id) {
        id -> Int8,
        title -> Text,
        details -> Text,
        kind -> Text,
        model_id -> Nullable<Int8>,
        owner_id -> Nullable<Int8>,
        due_on -> Nullable<Date>,
        priority -> Int2,
        status -> Text,
        reason -> Text,
        review_id -> Nullable<Int8>,
        ticket_id -> Nullable<Int8>,
        resolved_revision -> Nullable<Int4>,
        created_by -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    incident_models (id) {
        id -> Int8,
        key -> Text,
        title -> Text,
        category -> Text,
        tags -> Array<Nullable<Text>>,
        status -> Text,
        public -> Bool,
        revision -> Int4,
        owner_id -> Nullable<Int8>,
        verified_at -> Nullable<Timestamptz>,
        verified_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        alerts -> Array<Nullable<Text>>,
    }
}

diesel::table! {
    integrations (id) {
        id -> Int8,
        name -> Text,
        token_hash -> Text,
        prefix -> Text,
        user_id -> Int8,
        organization_id -> Nullable<Int8>,
        default_priority -> Int2,
        default_category -> Text,
        priority_label -> Text,
        priority_map -> Jsonb,
        category_label -> Text,
        resolve_on_resolved -> Bool,
        reopen_window_minutes -> Int4,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    inbound_messages (message_id) {
        message_id -> Text,
        ticket_id -> Nullable<Int8>,
        entry_id -> Nullable<Int8>,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    journal_entries (id) {
        id -> Int8,
        ticket_id -> Int8,
        author_id -> Nullable<Int8>,
        kind -> Text,
        visibility -> Text,
        body -> Text,
        data -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> Int8,
        at -> Timestamptz,
        email -> Text,
        client_addr -> Text,
        succeeded -> Bool,
    }
}

diesel::table! {
    mail_domains (domain) {
        domain -> Text,
        organization_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    metric_exclusions (ticket_id) {
        ticket_id -> Int8,
        reason -> Text,
        by_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    model_links (from_model_id, to_model_id) {
        from_model_id -> Int8,
        to_model_id -> Int8,
    }
}

diesel::table! {
    model_revisions (id) {
        id -> Int8,
        model_id -> Int8,
        number -> Int4,
        title -> Text,
        category -> Text,
        tags -> Array<Nullable<Text>>,
        status -> Text,
        public -> Bool,
        statement -> Text,
        steps -> Array<Nullable<Text>>,
        discussion -> Text,
        body -> Text,
        author_id -> Nullable<Int8>,
        summary -> Text,
        created_at -> Timestamptz,
        alerts -> Array<Nullable<Text>>,
    }
}

diesel::table! {
    notification_preferences (user_id) {
        user_id -> Int8,
        public_reply -> Bool,
        resolved -> Bool,
        assigned -> Bool,
        escalated -> Bool,
        new_p1 -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    organizations (id) {
        id -> Int8,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    reviews (id) {
        id -> Int8,
        ticket_id -> Int8,
        reviewer_id -> Int8,
        status -> Text,
        what_happened -> Text,
        model_linked -> Nullable<Text>,
        model_worked -> Nullable<Text>,
        step_detail -> Text,
        escalation -> Nullable<Text>,
        recommendations -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        submitted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    rota_swaps (id) {
        id -> Int8,
        week_a -> Date,
        week_b -> Date,
        user_a -> Int8,
        user_b -> Int8,
        agreed_by -> Int8,
        recorded_by -> Int8,
        at -> Timestamptz,
    }
}

diesel::table! {
    rota_weeks (week_start) {
        week_start -> Date,
        triager_id -> Int8,
        assigned_by -> Nullable<Int8>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    search_outbox (id) {
        id -> Int8,
        entity -> Text,
        entity_id -> Int8,
        created_at -> Timestamptz,
        txid -> Int8,
    }
}

diesel::table! {
    sessions (id) {
        id -> Int8,
        token_hash -> Text,
        user_id -> Int8,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    setup_tokens (id) {
        id -> Int4,
        token_hash -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    ticket_categories (id) {
        id -> Int8,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    ticket_models (id) {
        id -> Int8,
        ticket_id -> Int8,
        model_id -> Nullable<Int8>,
        revision -> Nullable<Int4>,
        outcome -> Text,
        missing -> Text,
        linked_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    ticket_transitions (id) {
        id -> Int8,
        ticket_id -> Int8,
        from_status -> Nullable<Text>,
        to_status -> Text,
        by_id -> Nullable<Int8>,
        at -> Timestamptz,
    }
}

diesel::table! {
    tickets (id) {
        id -> Int8,
        title -> Text,
        description -> Text,
        requester_id -> Int8,
        organization_id -> Nullable<Int8>,
        priority -> Int2,
        category -> Text,
        assignee_id -> Nullable<Int8>,
        status -> Text,
        duplicate_of -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        reviewed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    triage_reviews (id) {
        id -> Int8,
        ticket_id -> Int8,
        week_start -> Date,
        triager_id -> Int8,
        reviewer_id -> Int8,
        right_model -> Text,
        duplicates_checked -> Text,
        searches_good -> Text,
        reply_fast -> Text,
        escalated_right -> Text,
        comment -> Text,
        score -> Nullable<Int2>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    triage_searches (id) {
        id -> Int8,
        ticket_id -> Int8,
        user_id -> Int8,
        query -> Text,
        results -> Jsonb,
        picked -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        email -> Text,
        display_name -> Text,
        role -> Text,
        organization_id -> Nullable<Int8>,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        time_zone -> Nullable<Text>,
    }
}

diesel::joinable!(alert_inbox -> integrations (integration_id));
diesel::joinable!(alerts -> integrations (integration_id));
diesel::joinable!(alerts -> tickets (ticket_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(arrival_triage -> tickets (ticket_id));
diesel::joinable!(arrival_triage -> users (user_id));
diesel::joinable!(attachments -> journal_entries (entry_id));
diesel::joinable!(attachments -> tickets (ticket_id));
diesel::joinable!(deliveries -> tickets (ticket_id));
diesel::joinable!(delivery_attempts -> deliveries (delivery_id));
diesel::joinable!(audit_log -> users (actor_id));
diesel::joinable!(calendar_feeds -> users (user_id));
diesel::joinable!(escalations -> tickets (ticket_id));
diesel::joinable!(improvement_events -> improvements (improvement_id));
diesel::joinable!(form_flashes -> tickets (ticket_id));
diesel::joinable!(form_flashes -> users (user_id));
diesel::joinable!(improvement_events -> users (actor_id));
diesel::joinable!(improvements -> incident_models (model_id));
diesel::joinable!(improvements -> reviews (review_id));
diesel::joinable!(improvements -> tickets (ticket_id));
diesel::joinable!(integrations -> organizations (organization_id));
diesel::joinable!(journal_entries -> tickets (ticket_id));
diesel::joinable!(journal_entries -> users (author_id));
diesel::joinable!(mail_domains -> organizations (organization_id));
diesel::joinable!(notification_preferences -> users (user_id));
diesel::joinable!(metric_exclusions -> tickets (ticket_id));
diesel::joinable!(metric_exclusions -> users (by_id));
diesel::joinable!(model_revisions -> incident_models (model_id));
diesel::joinable!(model_revisions -> users (author_id));
diesel::joinable!(reviews -> tickets (ticket_id));
diesel::joinable!(reviews -> users (reviewer_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(ticket_models -> incident_models (model_id));
diesel::joinable!(ticket_models -> tickets (ticket_id));
diesel::joinable!(ticket_models -> users (linked_by));
diesel::joinable!(ticket_transitions -> tickets (ticket_id));
diesel::joinable!(ticket_transitions -> users (by_id));
diesel::joinable!(tickets -> organizations (organization_id));
diesel::joinable!(triage_reviews -> tickets (ticket_id));
diesel::joinable!(triage_searches -> tickets (ticket_id));
diesel::joinable!(triage_searches -> users (user_id));
diesel::joinable!(users -> organizations (organization_id));
diesel::joinable!(webhook_subscriptions -> organizations (organization_id));

diesel::table! {
    webhook_subscriptions (id) {
        id -> Int8,
        url -> Text,
        events -> Array<Nullable<Text>>,
        secret -> Text,
        customer_visible_only -> Bool,
        format -> Text,
        organization_id -> Nullable<Int8>,
        active -> Bool,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    alerts,
    api_tokens,
    alert_inbox,
    arrival_triage,
    attachments,
    audit_log,
    calendar_feeds,
    debt_weeks,
    deliveries,
    delivery_attempts,
    escalations,
    form_flashes,
    improvement_events,
    improvements,
    inbound_messages,
    incident_models,
    integrations,
    journal_entries,
    login_attempts,
    mail_domains,
    metric_exclusions,
    model_links,
    model_revisions,
    notification_preferences,
    organizations,
    reviews,
    rota_swaps,
    rota_weeks,
    search_outbox,
    sessions,
    setup_tokens,
    ticket_categories,
    ticket_models,
    ticket_transitions,
    tickets,
    triage_reviews,
    triage_searches,
    users,
    webhook_subscriptions,
);
