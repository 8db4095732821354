"""The canonical frame of a year's sub-compartments (小班), as stored.

Every reader of a forest-resource layer (一张图) produces, and the store keeps,
one row per 小班 with these columns (geometry: MultiPolygon, EPSG:4490):

``key``
    ``<adcode>/<township>/<village>/<林班>/<小班>[/<细班>]``: the 小班's
    identity (county + township + village + compartment + sub-compartment
    (+ 细班); a 小班 number alone is unique only inside its 林班). Parts the
    layer does not carry are empty strings.
``adcode``, ``year``
    County code (6 digits) and the year the layer describes (state at
    31 December of that year).
``township``, ``village``, ``compartment``, ``xiaoban``, ``sub_xiaoban``
    XIANG, CUN, LIN_BAN, XIAO_BAN, XI_BAN as delivered (text).
``land_class_raw``, ``land_scheme``, ``land_code``
    DI_LEI as delivered, and the row of ``data/land_classes.csv`` it resolved
    to (``ldbg``/``sandiao``/``legacy``, code as written in the table).
``land_group``
    The scheme-independent class (``arbor``, ``bamboo``, ``special_shrub``,
    ``other_shrub``, ``sparse``, ``unestablished``, ``nursery``,
    ``treeless``, ``suitable``, ``auxiliary``, ``non_forest``): the unit of
    transfer matrices, so a 2010 layer in older codes compares with a 2015
    layer in 林地变更 codes.
``is_forest``, ``is_forest_land``
    0/1: counted in forest area (coverage) / in forest-land area.
``land_class_before_raw``, ``land_group_before``
    Q_DI_LEI (the previous year's class) as delivered and resolved; NULL
    where the layer has no such field.
``area_mu``
    Ellipsoidal area of the geometry (GRS80, mu; 1 mu = 10000/15 m²).
``area_reported_mu``
    MIAN_JI as delivered, converted to mu (MIAN_JI is in hectares).
``volume_m3_ha``, ``stock_m3``
    HUO_LMGQXJ (standing stock per hectare, m³/ha) and the 小班's total
    standing stock where the layer carries one (HUO_LMXJ, ZXJ, 蓄积, m³).
``species``, ``origin``, ``age_group``, ``canopy``
    YOU_SHI_SZ, QI_YUAN, LING_ZU as delivered (text); YU_BI_DU (0–1).
``change_reason``, ``forest_category``
    BHYY (变化原因) and SEN_LIN_LB as delivered.
``source_row``, ``attrs``
    Row in the delivered file (from 0) and every other field as JSON text.
"""

from __future__ import annotations

#: column name -> SQLite/GeoPackage type of the stored 小班 table
XIAOBAN_FIELDS = {
    "key": "TEXT",
    "adcode": "TEXT",
    "year": "INTEGER",
    "township": "TEXT",
    "village": "TEXT",
    "compartment": "TEXT",
    "xiaoban": "TEXT",
    "sub_xiaoban": "TEXT",
    "land_class_raw": "TEXT",
    "land_scheme": "TEXT",
    "land_code": "TEXT",
    "land_group": "TEXT",
    "is_forest": "INTEGER",
    "is_forest_land": "INTEGER",
    "land_class_before_raw": "TEXT",
    "land_group_before": "TEXT",
    "area_mu": "REAL",
    "area_reported_mu": "REAL",
    "volume_m3_ha": "REAL",
    "stock_m3": "REAL",
    "species": "TEXT",
    "origin": "TEXT",
    "age_group": "TEXT",
    "canopy": "REAL",
    "change_reason": "TEXT",
    "forest_category": "TEXT",
    "source_row": "INTEGER",
    "attrs": "TEXT",
}
XIAOBAN_COLUMNS = tuple(XIAOBAN_FIELDS)

#: land groups in display order, with their Chinese and English labels
LAND_GROUPS = {
    "arbor": ("乔木林地", "arbor forest"),
    "bamboo": ("竹林地", "bamboo forest"),
    "special_shrub": ("国家特别规定灌木林地", "state-specified shrub"),
    "other_shrub": ("其他灌木林地", "other shrub"),
    "sparse": ("疏林地", "sparse forest"),
    "unestablished": ("未成林地", "not yet established"),
    "nursery": ("苗圃地", "nursery"),
    "treeless": ("无立木林地", "treeless forest land"),
    "suitable": ("宜林地", "land suitable for forest"),
    "auxiliary": ("林业辅助生产用地", "forestry auxiliary land"),
    "non_forest": ("非林地", "non-forest land"),
}
