"""Reference tables: the plan as printed, names, rules, validation errors."""

import re
from pathlib import Path

import pandas as pd
import pytest

import forestsink
from forestsink import reference
from forestsink.errors import ReferenceDataError, UnknownNameError

SEED = next(Path(__file__).resolve().parents[2].glob("shared/seed/*.txt"), None)

# Annex 1 as printed in 渝府发〔2012〕102号, typed in by hand from the seed
# document (unit number: name as printed, CO2 %, energy %).
ANNEX1 = {
    0: ("全\u2002\xa0市", "＞17", "16"),
    1: ("涪陵区", "17", "16"),
    2: ("渝中区", "10.5", "10"),
    3: ("大渡口区", "19", "18"),
    4: ("江北区", "17.5", "16"),
    5: ("沙坪坝区", "17.5", "16"),
    6: ("九龙坡区", "17.5", "16"),
    7: ("南岸区", "17.5", "16"),
    8: ("北碚区", "17", "16"),
    9: ("渝北区", "17.5", "16"),
    10: ("巴南区", "17.5", "16"),
    11: ("长寿区", "18.5", "18"),
    12: ("江津区", "19", "18"),
    13: ("合川区", "17", "16"),
    14: ("永川区", "17", "16"),
    15: ("南川区", "17", "16"),
    16: ("綦江区", "17", "16"),
    17: ("大足区", "17", "16"),
    18: ("潼南县", "16", "15"),
    19: ("铜梁县", "16", "15"),
    20: ("荣昌县", "18", "17"),
    21: ("璧山县", "17.5", "16"),
    22: ("万盛经开区", "18", "17"),
    23: ("万州区", "17", "16"),
    24: ("梁平县", "17", "16"),
    25: ("城口县", "15.5", "15"),
    26: ("丰都县", "16", "15"),
    27: ("垫江县", "17", "16"),
    28: ("忠\u2002\xa0县", "17", "16"),
    29: ("开\u2002\xa0县", "17", "17"),
    30: ("云阳县", "16", "15"),
    31: ("奉节县", "16", "15"),
    32: ("巫山县", "15.5", "15"),
    33: ("巫溪县", "15.5", "15"),
    34: ("黔江区", "16", "15"),
    35: ("武隆县", "17", "15"),
    36: ("石柱县", "16", "15"),
    37: ("秀山县", "18", "17"),
    38: ("酉阳县", "16", "15"),
    39: ("彭水县", "16", "15"),
}

RENAMED = {  # 2012 name -> today's name (design.md)
    "潼南县": "潼南区",
    "铜梁县": "铜梁区",
    "璧山县": "璧山区",
    "荣昌县": "荣昌区",
    "梁平县": "梁平区",
    "开县": "开州区",
    "武隆县": "武隆区",
}
OLD_ADCODES = {  # county codes in force during 2011–2015 -> today's adcode
    "500223": "500152",
    "500224": "500151",
    "500226": "500153",
    "500227": "500120",
    "500228": "500155",
    "500232": "500156",
    "500234": "500154",
}


def test_38_units_by_kind():
    table = forestsink.read_district_table()
    assert len(table) == 38
    assert table["kind"].value_counts().to_dict() == {
        "district": 26,
        "county": 8,
        "autonomous_county": 4,
    }
    assert table["adcode"].str.fullmatch(r"500\d{3}").all()
    assert table["region"].value_counts().to_dict() == {
        "一小时经济圈": 21,
        "渝东北翼": 11,
        "渝东南翼": 6,
    }


def test_annex1_rows_as_printed():
    units = forestsink.read_assessment_units().set_index("unit_no")
    assert sorted(units.index) == list(range(40))
    for no, (name, co2, energy) in ANNEX1.items():
        row = units.loc[no]
        assert row["name_printed"] == name, no
        assert row["co2_reduction_printed"] == co2, no
        assert row["energy_reduction_printed"] == energy, no
    assert units.loc[0, "co2_reduction_qualifier"] == "gt"
    assert units.loc[0, "co2_reduction_pct"] == 17.0
    assert units.loc[2, "co2_reduction_pct"] == 10.5
    # regions: units 1-22, 23-33, 34-39
    assert set(units.loc[1:22, "region"]) == {"一小时经济圈"}
    assert set(units.loc[23:33, "region"]) == {"渝东北翼"}
    assert set(units.loc[34:39, "region"]) == {"渝东南翼"}


@pytest.mark.skipif(SEED is None, reason="seed document not beside the repo")
def test_annex1_matches_seed_text():
    text = SEED.read_text(encoding="utf-8")
    annex = text[text.rindex("附件1") :]
    rows = {}
    for block in annex.split("\n\n"):
        cells = [c.strip(" \t") for c in block.split("\n") if c.strip()]
        if len(cells) == 4 and cells[0].isdigit():
            rows[int(cells[0])] = tuple(cells[1:])
        elif len(cells) == 3 and cells[0].startswith("全"):
            rows[0] = tuple(cells)
    assert rows == ANNEX1


def test_units_map_onto_districts():
    units = forestsink.read_assessment_units().set_index("unit_no")
    codes = set(forestsink.read_district_table()["adcode"])
    unit_codes = units.loc[1:, "adcodes"]
    # every district is covered by exactly one unit, except 綦江 (+万盛)
    assert set(unit_codes) == codes
    assert unit_codes.value_counts().to_dict()["500110"] == 2
    assert units.loc[22, "polygon_relation"] == "inside"  # 万盛经开区: flagged
    assert units.loc[17, "polygon_relation"] == "includes"  # 大足区 + 双桥
    assert "双桥" in units.loc[17, "note"]


@pytest.mark.parametrize("old,new", sorted(RENAMED.items()))
def test_renamed_units_resolve_from_both_names(old, new):
    resolver = forestsink.DistrictResolver()
    assert resolver.resolve(old) == resolver.resolve(new)
    assert resolver.name_zh[resolver.resolve(old)] == new


@pytest.mark.parametrize("old,new", sorted(OLD_ADCODES.items()))
def test_adcodes_in_force_2011_2015_resolve(old, new):
    assert forestsink.resolve_district(old) == new
    assert forestsink.resolve_district(new) == new


@pytest.mark.parametrize(
    "name,adcode",
    [
        ("石柱土家族自治县", "500240"),
        ("石柱县", "500240"),
        ("石柱", "500240"),
        ("秀山县", "500241"),
        ("酉阳", "500242"),
        ("彭水苗族土家族自治县", "500243"),
        ("开  县", "500154"),
        ("重庆市江北区", "500105"),
        ("江北", "500105"),
        ("Kaizhou District", "500154"),
        ("kaizhou", "500154"),
        ("ＷＡＮＺＨＯＵ", "500101"),
        ("万盛经开区", "500110"),
        ("双桥经开区", "500111"),
        (500101, "500101"),
        ("500101.0", "500101"),
        ("忠县", "500233"),
    ],
)
def test_name_forms(name, adcode):
    assert forestsink.resolve_district(name) == adcode


def test_every_district_resolves_from_its_own_names():
    resolver = forestsink.DistrictResolver()
    for row in forestsink.read_district_table().itertuples():
        for name in (
            row.name_zh,
            row.name_en,
            row.adcode,
            row.adcode_2011_2015,
            row.name_2012,
        ):
            assert resolver.resolve(name) == row.adcode, name


def test_unknown_name_lists_closest():
    with pytest.raises(UnknownNameError) as err:
        forestsink.resolve_district("开洲区")
    message = str(err.value)
    assert "开洲区" in message and "开州区" in message
    with pytest.raises(KeyError):  # also a KeyError for callers
        forestsink.resolve_district("成都市")


def test_resolve_many_vectorised():
    resolver = forestsink.DistrictResolver()
    out = resolver.resolve_many(pd.Series(["开县", "nowhere", "500110"]))
    assert out.iloc[0] == "500154" and pd.isna(out.iloc[1]) and out.iloc[2] == "500110"


def test_plan_targets_from_seed():
    targets = forestsink.read_plan_targets().set_index("target_id")
    assert targets.loc["forest_coverage", "value"] == 45
    assert targets.loc["new_forest_area", "value"] == 9_000_000
    assert targets.loc["new_stock_volume", "value"] == 30_000_000
    expected_mu = {  # 三(四): 万亩 as printed × 10 000
        "yangtze_shelterbelt_renovation": 300,
        "three_gorges_afforestation": 240,
        "three_gorges_renovation": 40,
        "grain_to_green": 400,
        "rocky_desertification": 100,
        "forest_programme_afforestation": 300,
        "forest_programme_renovation": 532,
        "forest_programme_nursery": 10,
        "public_welfare_planting": 500,
        "tending": 1000,
        "protect_national_public_welfare": 1857,
        "protect_local_public_welfare": 2372,
    }
    for target_id, wan_mu in expected_mu.items():
        assert targets.loc[target_id, "value"] == wan_mu * 10_000, target_id
        assert targets.loc[target_id, "unit"] == "mu"
    assert targets.loc["rocky_desertification", "qualifier"] == "about"
    if SEED is not None:  # every quote is text of the plan (modulo the ellipsis)
        text = SEED.read_text(encoding="utf-8")
        for quote in targets["quote"]:
            for part in quote.split("……"):
                assert part in text, part


def test_project_type_rules_default():
    types = forestsink.read_project_types()
    assert list(types.index) == list(reference.PROJECT_TYPES)
    adds_area = types["adds_forest_area"].to_dict()
    assert adds_area["renovation"] is False and adds_area["tending"] is False
    assert adds_area["afforestation"] is True and adds_area["grain_to_green"] is True
    assert types.loc["renovation", "adds_stock_volume"]
    assert "退耕还林" in types.loc["grain_to_green", "aliases_zh"]


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_rules_override_and_bad_rules(tmp_path):
    shipped = (reference.data_dir() / "project_types.csv").read_text(encoding="utf-8")
    flipped = shipped.replace(
        "tending,中幼林抚育,Tending of young and middle-aged forest,false",
        "tending,中幼林抚育,Tending of young and middle-aged forest,true",
    )
    assert flipped != shipped
    types = forestsink.read_project_types(_write(tmp_path, "rules.csv", flipped))
    assert types.loc["tending", "adds_forest_area"]

    bad = shipped.replace(
        "nursery,苗圃,Nursery base,false", "nursery,苗圃,Nursery base,maybe"
    )
    with pytest.raises(ReferenceDataError, match=r"row 8, column 'adds_forest_area'"):
        forestsink.read_project_types(_write(tmp_path, "bad.csv", bad))

    unknown = shipped.replace("\nnursery,", "\nnurseries,")
    with pytest.raises(ReferenceDataError, match="nurseries") as err:
        forestsink.read_project_types(_write(tmp_path, "bad2.csv", unknown))
    assert "bad2.csv" in str(err.value)


def test_bad_carbon_parameter_file_names_row(tmp_path):
    header = (
        "forest_type,name_zh,name_en,parameter,value,unit,low,high,sd,"
        "distribution,source_id,note\n"
    )
    ok = "oak,栎类,Oak,D,0.6,t/m3,,,,,src,\n"
    wrong_unit = "oak,栎类,Oak,CF,47,1,,,,,src,\n"  # percent instead of fraction
    with pytest.raises(ReferenceDataError, match=r"row 3 \(oak, CF\).*plausible"):
        forestsink.read_carbon_parameters(
            _write(tmp_path, "p.csv", header + ok + wrong_unit)
        )
    unknown = "oak,栎类,Oak,XYZ,1,1,,,,,src,\n"
    with pytest.raises(ReferenceDataError, match="XYZ"):
        forestsink.read_carbon_parameters(_write(tmp_path, "q.csv", header + unknown))
    outside = "oak,栎类,Oak,D,0.6,t/m3,0.7,0.8,,uniform,src,\n"
    with pytest.raises(ReferenceDataError, match=r"not inside \[low, high\]"):
        forestsink.read_carbon_parameters(_write(tmp_path, "r.csv", header + outside))


def test_shipped_tables_validate():
    counts = forestsink.validate_reference_data()
    assert counts["districts.csv"] == 38
    assert counts["assessment_units.csv"] == 40
    assert counts["districts.gpkg"] == 38


def test_data_readme_names_every_file():
    readme = (reference.data_dir() / "README.md").read_text(encoding="utf-8")
    for path in reference.data_dir().iterdir():
        if path.is_file() and path.name != "README.md":
            assert path.name in readme, f"{path.name} has no entry in data/README.md"
    for word in ("licence", "source"):
        assert re.search(word, readme, re.IGNORECASE)
