-- A person's time zone, an IANA name (Europe/Berlin) checked by the
-- application against its zone database; NULL is the instance's default
-- (CASEBOOK_TIME_ZONE), so changing that default moves everyone who never
-- chose.
ALTER TABLE users ADD COLUMN time_zone text
    CHECK (time_zone IS NULL OR char_length(time_zone) BETWEEN 1 AND 64);
