-- Tables of the embedded DuckDB database. Created idempotently by pipelines.db.connect().

CREATE TABLE IF NOT EXISTS meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR
);

-- Administrative units (统计用区划代码). A unit exists from valid_from to valid_to (NULL = still exists).
CREATE TABLE IF NOT EXISTS units (
    code               VARCHAR PRIMARY KEY,
    name               VARCHAR NOT NULL,
    level              VARCHAR NOT NULL,      -- province | city | county | township | village
    parent_code        VARCHAR,
    lon                DOUBLE,
    lat                DOUBLE,
    population         INTEGER,
    elderly_population INTEGER,
    valid_from         DATE,
    valid_to           DATE,
    merged_into        VARCHAR,
    source             VARCHAR,
    loaded_at          TIMESTAMP DEFAULT current_timestamp
);

-- Boundary polygons as GeoJSON geometry text, keyed by unit code.
CREATE TABLE IF NOT EXISTS unit_shapes (
    code     VARCHAR PRIMARY KEY,
    geometry VARCHAR NOT NULL
);
