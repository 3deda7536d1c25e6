-- Submissions of township returns. The values themselves live in the per-sheet tables
-- village_values / township_values, whose field columns are generated from schemas/fields.yaml.

CREATE SEQUENCE IF NOT EXISTS submission_seq START 1;

CREATE TABLE IF NOT EXISTS submissions (
    id               INTEGER PRIMARY KEY,
    township_code    VARCHAR NOT NULL,
    period           VARCHAR NOT NULL,          -- 2024Q3
    file_name        VARCHAR NOT NULL,
    file_kind        VARCHAR NOT NULL,          -- xlsx | xls | csv
    sha256           VARCHAR NOT NULL,
    size_bytes       BIGINT NOT NULL,
    archive_path     VARCHAR NOT NULL,          -- relative to the database's folder
    template_version VARCHAR,
    uploaded_at      TIMESTAMP NOT NULL,
    uploaded_by      VARCHAR,
    status           VARCHAR NOT NULL,          -- active | superseded
    superseded_by    INTEGER,
    village_rows     INTEGER NOT NULL,
    township_rows    INTEGER NOT NULL,
    warnings         INTEGER NOT NULL
);

-- Problems kept beside a stored submission (warnings; errors reject the file).
CREATE TABLE IF NOT EXISTS submission_problems (
    submission_id INTEGER NOT NULL,
    code          VARCHAR NOT NULL,
    severity      VARCHAR NOT NULL,
    sheet         VARCHAR,
    cell          VARCHAR,
    field         VARCHAR,
    value         VARCHAR,
    message       VARCHAR NOT NULL
);

-- Where each field was found in the file: with source_row, every value traces to its cell.
CREATE TABLE IF NOT EXISTS submission_columns (
    submission_id INTEGER NOT NULL,
    sheet_key     VARCHAR NOT NULL,             -- village | township
    sheet_name    VARCHAR NOT NULL,
    field         VARCHAR NOT NULL,
    column_letter VARCHAR NOT NULL,
    header        VARCHAR
);

-- Review (审核) of a submission by its county: submitted 待审核 → approved 已通过 (locked: no later upload
-- may supersede it until a reviewer unlocks it) or returned 已退回 (with a comment for the clerk).
-- Rows written before review existed count as approved.
ALTER TABLE submissions ADD COLUMN IF NOT EXISTS review_status VARCHAR DEFAULT 'approved';
ALTER TABLE submissions ADD COLUMN IF NOT EXISTS reviewed_by VARCHAR;
ALTER TABLE submissions ADD COLUMN IF NOT EXISTS reviewed_at TIMESTAMP;
ALTER TABLE submissions ADD COLUMN IF NOT EXISTS review_comment VARCHAR;
