-- Tables of the embedded DuckDB database. Created idempotently by pipelines.db.connect().

CREATE TABLE IF NOT EXISTS meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR
);

-- Administrative units (统计用区划代码). A unit exists from valid_from to valid_to (NULL = still exists).
-- committee_type (village level only): 村委会 / 居委会 / 其他, from the registry file when given, else from
-- the code's last three digits (001–199 居委会, 200–399 村委会); urban_rural_code: the 城乡分类代码
-- (e.g. 111, 220) where the file gives it.
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
    loaded_at          TIMESTAMP DEFAULT current_timestamp,
    committee_type     VARCHAR,
    urban_rural_code   VARCHAR
);

-- Databases created before committee types: add the columns and derive the type from the code.
ALTER TABLE units ADD COLUMN IF NOT EXISTS committee_type VARCHAR;
ALTER TABLE units ADD COLUMN IF NOT EXISTS urban_rural_code VARCHAR;
UPDATE units SET committee_type = CASE
        WHEN substr(code, 10, 3) BETWEEN '001' AND '199' THEN '居委会'
        WHEN substr(code, 10, 3) BETWEEN '200' AND '399' THEN '村委会'
        ELSE '其他' END
    WHERE level = 'village' AND committee_type IS NULL;

-- Boundary polygons as GeoJSON geometry text, keyed by unit code.
CREATE TABLE IF NOT EXISTS unit_shapes (
    code     VARCHAR PRIMARY KEY,
    geometry VARCHAR NOT NULL
);
