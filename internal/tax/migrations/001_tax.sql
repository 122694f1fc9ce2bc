-- Tax rates by destination country, in basis points (1900 = 19%). The row
-- '*' is the rate of every country without a row of its own.
CREATE TABLE tax_rates (
    country    TEXT PRIMARY KEY,   -- ISO 3166-1 alpha-2, or '*'
    rate_bp    BIGINT NOT NULL CHECK (rate_bp >= 0 AND rate_bp <= 10000),
    updated_at TIMESTAMP NOT NULL
);

-- Defaults: the standard VAT rates of the EU member states (2025), and 0
-- everywhere else. Staff change them in the admin API.
INSERT INTO tax_rates (country, rate_bp, updated_at) VALUES
    ('*', 0, CURRENT_TIMESTAMP),
    ('AT', 2000, CURRENT_TIMESTAMP),
    ('BE', 2100, CURRENT_TIMESTAMP),
    ('BG', 2000, CURRENT_TIMESTAMP),
    ('CY', 1900, CURRENT_TIMESTAMP),
    ('CZ', 2100, CURRENT_TIMESTAMP),
    ('DE', 1900, CURRENT_TIMESTAMP),
    ('DK', 2500, CURRENT_TIMESTAMP),
    ('EE', 2400, CURRENT_TIMESTAMP),
    ('ES', 2100, CURRENT_TIMESTAMP),
    ('FI', 2550, CURRENT_TIMESTAMP),
    ('FR', 2000, CURRENT_TIMESTAMP),
    ('GR', 2400, CURRENT_TIMESTAMP),
    ('HR', 2500, CURRENT_TIMESTAMP),
    ('HU', 2700, CURRENT_TIMESTAMP),
    ('IE', 2300, CURRENT_TIMESTAMP),
    ('IT', 2200, CURRENT_TIMESTAMP),
    ('LT', 2100, CURRENT_TIMESTAMP),
    ('LU', 1700, CURRENT_TIMESTAMP),
    ('LV', 2100, CURRENT_TIMESTAMP),
    ('MT', 1800, CURRENT_TIMESTAMP),
    ('NL', 2100, CURRENT_TIMESTAMP),
    ('PL', 2300, CURRENT_TIMESTAMP),
    ('PT', 2300, CURRENT_TIMESTAMP),
    ('RO', 2100, CURRENT_TIMESTAMP),
    ('SE', 2500, CURRENT_TIMESTAMP),
    ('SI', 2200, CURRENT_TIMESTAMP),
    ('SK', 2300, CURRENT_TIMESTAMP);
