"""Label taxonomy of the Foley library, derived from the source packages' own names and folders.

Each rule is ``(package, regex on the lower-cased path inside the package, class, subclass,
description)``; the first rule that matches wins. ``class=None`` drops the file with the
subclass as the reason (voice, music, interface beeps, synthetic magic effects). Subclass and
description may use ``{1}``, ``{2}`` ... for the regex groups. Files no rule matches are
dropped as ``unlabelled`` (reported by ``v2a data sfx``), so nothing enters with a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Visual event kind per class: what the renderer draws at the sound's onset.
VISUAL_KIND: dict[str, str] = {
    "footstep": "step",
    "hooves": "step",
    "impact": "hit",
    "hammer": "hit",
    "chop": "hit",
    "dig": "hit",
    "place": "hit",
    "blade": "hit",
    "break": "burst",
    "door": "swing",
    "glass": "burst",
    "explosion": "burst",
    "crash": "burst",
    "gunshot": "burst",
    "thunder": "burst",
    "water": "splash",
    "squelch": "splash",
    "bubbling": "splash",
    "fire": "flicker",
    "whoosh": "swipe",
    "bow": "swipe",
    "dog": "creature",
    "bird": "creature",
    "livestock": "creature",
    "horse": "creature",
    "insect": "creature",
    "big_cat": "creature",
    "animal": "creature",
    "rain": "continuous",
    "wind": "continuous",
    "ambience": "continuous",
    "machinery": "continuous",
    "rolling": "continuous",
    "saw": "continuous",
    "foliage": "continuous",
    "scrape": "continuous",
}

# Classes whose recordings are sustained textures: long files are cut into segments.
SUSTAINED = {"rain", "wind", "ambience", "machinery", "rolling", "saw", "water", "fire", "insect", "bubbling"}

D = None  # drop marker for readability

RULES: list[tuple[str, str, str | None, str, str]] = [
    # ---------------------------------------------------------------- 0 A.D. (CC-BY-SA-3.0)
    ("0ad-data", r"audio/(voice|music|interface)/", D, "voice/music/interface", ""),
    ("0ad-data", r"actor/human/death/", D, "voice", ""),
    ("0ad-data", r"fauna/.*(cattle|sheep|pig|camel|goat)", "livestock", "{1}", "a {1} calling"),
    ("0ad-data", r"fauna/.*(chicken|flamingo|peacock)", "bird", "{1}", "a {1} calling"),
    ("0ad-data", r"fauna/.*(elephant)", "animal", "{1}", "an elephant trumpeting"),
    ("0ad-data", r"fauna/.*(lion)", "big_cat", "{1}", "a lion roaring"),
    ("0ad-data", r"fauna/.*horse", "horse", "neigh", "a horse neighing"),
    ("0ad-data", r"fauna/death/animal_death_generic", "animal", "death", "an animal crying out"),
    ("0ad-data", r"fauna/movement/camel", "hooves", "camel", "a camel walking"),
    ("0ad-data", r"footsteps/foo[rt]step_(sand|grass|gravel|rock|wood)_(running|walking)", "footstep", "{1}", "footsteps {2} on {1}"),
    ("0ad-data", r"human/movement/hstep_(run_)?dirt", "footstep", "dirt", "footsteps on dirt"),
    ("0ad-data", r"mounted/death", "horse", "neigh", "a horse crying out"),
    ("0ad-data", r"mounted/movement/mstep", "hooves", "horse", "a horse's hooves"),
    ("0ad-data", r"singlesteps/fs_(grass|gravel|rock|sand|snow|wood)", "footstep", "{1}", "a footstep on {1}"),
    ("0ad-data", r"gate/stonegate_(open|close)", "door", "gate_{1}", "a heavy gate {1}"),
    ("0ad-data", r"ship/(s|ship_|warship_)move", "water", "boat", "a boat moving through water"),
    ("0ad-data", r"ship/warship_death", "crash", "ship", "a wooden ship breaking apart"),
    ("0ad-data", r"ship/", D, "interface", ""),
    ("0ad-data", r"ambient/building/amb_farm", "ambience", "farm", "farmyard ambience"),
    ("0ad-data", r"ambient/building/", D, "crowd voices", ""),
    ("0ad-data", r"ambient/dayscape/", "ambience", "day", "daytime nature ambience with birds"),
    ("0ad-data", r"ambient/water/(river|waterfall)", "water", "stream", "a river flowing"),
    ("0ad-data", r"ambient/water/wave", "water", "waves", "waves on a shore"),
    ("0ad-data", r"ambient/weather/rain", "rain", "rain", "rain falling"),
    ("0ad-data", r"ambient/weather/thunder", "thunder", "thunder", "a thunderclap"),
    ("0ad-data", r"ambient/weather/(snowstorm|wind|windgust|windleaves|windstorm)", "wind", "{1}", "wind blowing"),
    ("0ad-data", r"destruction/building_collapse", "crash", "building", "a building collapsing"),
    ("0ad-data", r"destruction/explode", "explosion", "debris", "an explosion with debris"),
    ("0ad-data", r"attack/fire/", "fire", "crackle", "a fire crackling"),
    ("0ad-data", r"impact/arrow_(dirt|metal|stone|wood)", "impact", "{1}", "an arrow hitting {1}"),
    ("0ad-data", r"impact/arrow_\d", "impact", "arrow", "an arrow striking"),
    ("0ad-data", r"impact/flesh", "impact", "flesh", "a blow into flesh"),
    ("0ad-data", r"impact/shield_(metal|wood)", "impact", "{1}", "a blow on a {1} shield"),
    ("0ad-data", r"impact/siegeprojectilehit", "impact", "heavy", "a heavy stone projectile hitting"),
    ("0ad-data", r"impact/sling_(metal|stone|wood)", "impact", "{1}", "a sling stone hitting {1}"),
    ("0ad-data", r"siege/(ballist|onager_shooting)", "bow", "siege", "a siege engine launching"),
    ("0ad-data", r"siege/ram_attack\.", "impact", "heavy", "a battering ram striking"),
    ("0ad-data", r"siege/(ram_move|onager_moving)", "rolling", "cart", "a heavy wooden cart rolling"),
    ("0ad-data", r"siege/", D, "interface", ""),
    ("0ad-data", r"weapon/arrowfly", "whoosh", "arrow", "an arrow flying past"),
    ("0ad-data", r"weapon/bow_attack", "bow", "bow", "a bow shot"),
    ("0ad-data", r"weapon/(jav|spear|pike)_attack", "whoosh", "spear", "a spear thrust"),
    ("0ad-data", r"weapon/sword_attack", "blade", "swing", "a sword swing"),
    ("0ad-data", r"weapon/swordhit", "blade", "clash", "swords clashing"),
    ("0ad-data", r"weapon/musket", "gunshot", "musket", "a musket shot"),
    ("0ad-data", r"weapon/sling", "whoosh", "sling", "a sling whirling and releasing"),
    ("0ad-data", r"construction/con_saw", "saw", "wood", "sawing wood"),
    ("0ad-data", r"construction/con_stone", "hammer", "stone", "hammering stone"),
    ("0ad-data", r"construction/con_wood", "hammer", "wood", "hammering wood"),
    ("0ad-data", r"farming/hoe", "dig", "hoe", "a hoe digging soil"),
    ("0ad-data", r"foraging/leaves", "foliage", "leaves", "rustling leaves"),
    ("0ad-data", r"gathering/gather_field", "foliage", "harvest", "cutting grain in a field"),
    ("0ad-data", r"gathering/gather_fruit", "foliage", "fruit", "picking fruit from a bush"),
    ("0ad-data", r"gathering/gather_meat", "squelch", "meat", "butchering meat"),
    ("0ad-data", r"lumbering/lumber_treeexpire", "crash", "tree", "a tree falling"),
    ("0ad-data", r"lumbering/lumber_tree", "chop", "wood", "an axe chopping wood"),
    ("0ad-data", r"mining/mine_(metal|stone)", "dig", "pickaxe_{1}", "a pickaxe striking {1}"),
    # ---------------------------------------------------------------- Minetest (CC0/CC-BY/CC-BY-SA)
    ("minetest-data", r"devtest/", D, "test tone", ""),
    ("minetest-data", r"player_damage", D, "voice", ""),
    ("minetest-data", r"default_(dirt|glass|grass|gravel|ice|metal|sand|snow|wood)_footstep", "footstep", "{1}", "a footstep on {1}"),
    ("minetest-data", r"default_hard_footstep", "footstep", "stone", "a footstep on hard stone"),
    ("minetest-data", r"default_water_footstep", "water", "splash", "a foot splashing in water"),
    ("minetest-data", r"default_break_glass", "glass", "break", "glass breaking"),
    ("minetest-data", r"default_chest_(open|close)", "door", "chest_{1}", "a wooden chest lid {1}"),
    ("minetest-data", r"default_cool_lava", "fire", "hiss", "lava hissing as it cools"),
    ("minetest-data", r"default_dig_choppy", "chop", "wood", "chopping wood"),
    ("minetest-data", r"default_dig_cracky", "dig", "pickaxe_stone", "a pick striking stone"),
    ("minetest-data", r"default_dig_crumbly", "dig", "dirt", "digging dirt"),
    ("minetest-data", r"default_dig_metal", "impact", "metal", "a tool striking metal"),
    ("minetest-data", r"default_dig_snappy", "foliage", "snap", "snapping plants"),
    ("minetest-data", r"default_dig_(dig_immediate|oddly)", "impact", "light", "a light tap"),
    ("minetest-data", r"default_(gravel)_(dig|dug)", "dig", "gravel", "digging gravel"),
    ("minetest-data", r"default_ice_(dig|dug)", "dig", "ice", "chipping ice"),
    ("minetest-data", r"default_dug_metal", "place", "metal", "a metal block dropped"),
    ("minetest-data", r"default_dug_node", "place", "block", "a block knocked loose"),
    ("minetest-data", r"default_place_node_(hard|metal)", "place", "{1}", "a {1} block set down"),
    ("minetest-data", r"default_place_node", "place", "block", "a block set down"),
    ("minetest-data", r"default_furnace_active", "fire", "furnace", "a furnace burning"),
    ("minetest-data", r"default_item_smoke", "fire", "hiss", "a puff of smoke hissing"),
    ("minetest-data", r"default_tool_breaks", "break", "tool", "a tool snapping"),
    ("minetest-data", r"carts_cart_moving", "rolling", "cart", "a cart rolling on rails"),
    ("minetest-data", r"doors_(door|fencegate|glass_door|steel_door)_(open|close)", "door", "{1}_{2}", "a {1} {2}"),
    ("minetest-data", r"xpanes_steel_bar_door_(open|close)", "door", "steel_bar_{1}", "a steel bar door {1}"),
    ("minetest-data", r"env_sounds_lava", "bubbling", "lava", "lava bubbling"),
    ("minetest-data", r"env_sounds_water", "water", "stream", "water flowing"),
    ("minetest-data", r"fire_extinguish_flame", "fire", "extinguish", "a flame put out with a hiss"),
    ("minetest-data", r"fire_(fire|large|small)", "fire", "crackle", "a fire crackling"),
    ("minetest-data", r"fire_flint_and_steel", "fire", "ignite", "flint and steel striking"),
    ("minetest-data", r"tnt_explode", "explosion", "blast", "a large explosion"),
    ("minetest-data", r"tnt_gunpowder_burning", "fire", "fuse", "gunpowder fizzing"),
    ("minetest-data", r"tnt_ignite", "fire", "ignite", "a fuse igniting"),
    # ---------------------------------------------------------------- Lugaru (CC-BY-SA-3.0)
    ("lugaru-data", r"/(music|alarm|console)", D, "music/interface", ""),
    ("lugaru-data", r"/rabbit", D, "character voice", ""),
    ("lugaru-data", r"/(bark|barkgrowl|growl|snarl)", "dog", "{1}", "a dog {1}"),
    ("lugaru-data", r"/hawk", "bird", "hawk", "a hawk screeching"),
    ("lugaru-data", r"/(staffbreak|break|broken)", "break", "wood", "a wooden staff snapping"),
    ("lugaru-data", r"/bushrustle", "foliage", "bush", "a bush rustling"),
    ("lugaru-data", r"/(clank|metalhit)", "impact", "metal", "a metal clank"),
    ("lugaru-data", r"/(heavyimpact|thud)", "impact", "heavy", "a heavy thud"),
    ("lugaru-data", r"/land", "footstep", "landing", "landing from a jump"),
    ("lugaru-data", r"/(clawslice|knifeslice|swordslice|fleshstab)", "blade", "slice", "a blade slicing"),
    ("lugaru-data", r"/knife(draw|sheathe)", "blade", "draw", "a knife drawn from its sheath"),
    ("lugaru-data", r"/whooshhit", "impact", "hit", "a swinging hit"),
    ("lugaru-data", r"/(knifeswish|highwhoosh|lowwhoosh|midwhoosh|movewhoosh|whoosh|jump)", "whoosh", "swing", "a fast whoosh"),
    ("lugaru-data", r"/(staffbody|staffhead|swordstaff)", "impact", "wood", "a wooden staff striking"),
    ("lugaru-data", r"/fire", "fire", "crackle", "a fire burning"),
    ("lugaru-data", r"/footstep(grass|snow|stone)", "footstep", "{1}", "a footstep on {1}"),
    ("lugaru-data", r"/desertambient", "ambience", "desert", "desert wind ambience"),
    ("lugaru-data", r"/wind", "wind", "wind", "wind blowing"),
    ("lugaru-data", r"/(skid|snowskid)", "scrape", "skid", "feet skidding"),
    ("lugaru-data", r"/splatter", "squelch", "splatter", "a wet splatter"),
    # ---------------------------------------------------------------- Wesnoth (GPL-2+)
    ("wesnoth-1.16-data", r"^usr/share/games/wesnoth/1.16/sounds/", D, "interface", ""),
    ("wesnoth-1.16-data", r"campaigns/", D, "voice", ""),
    ("wesnoth-1.16-data", r"ambient/birds", "bird", "songbirds", "birds singing"),
    ("wesnoth-1.16-data", r"ambient/campfire", "fire", "campfire", "a campfire crackling"),
    ("wesnoth-1.16-data", r"ambient/(morning|night)", "ambience", "{1}", "{1} outdoor ambience"),
    ("wesnoth-1.16-data", r"ambient/ship", "water", "boat", "a ship creaking on the water"),
    ("wesnoth-1.16-data", r"ambient/", D, "music", ""),
    ("wesnoth-1.16-data", r"/(horn-signals|fanfare|bell)", D, "music", ""),
    ("wesnoth-1.16-data", r"/(bow|crossbow|bow-puny)(-fire)?-miss\.", "whoosh", "arrow", "an arrow whizzing past"),
    ("wesnoth-1.16-data", r"/(bow|crossbow|bow-puny)(-fire)?\.", "bow", "{1}", "a {1} shot"),
    ("wesnoth-1.16-data", r"/dart\.", "bow", "dart", "a dart thrown"),
    ("wesnoth-1.16-data", r"/(axe|hatchet|club|mace|spear|staff|sword|flail|dagger|knife|throwing-knife|fist|claws|tail)-miss", "whoosh", "{1}", "a {1} swinging through the air"),
    ("wesnoth-1.16-data", r"/(miss-\d|dagger-swish)", "whoosh", "swing", "a weapon swinging through the air"),
    ("wesnoth-1.16-data", r"/(throw-\d|sling-big-miss|sling-miss)", "whoosh", "throw", "an object thrown"),
    ("wesnoth-1.16-data", r"/(axe|hatchet)\.", "blade", "axe", "an axe blow"),
    ("wesnoth-1.16-data", r"/(sword-\d|knife|throwing-knife|spear)\.", "blade", "{1}", "a {1} strike"),
    ("wesnoth-1.16-data", r"/(club|mace|staff|flail|fist)\.", "impact", "blunt", "a {1} blow"),
    ("wesnoth-1.16-data", r"/(sling|sling-big)\.", "impact", "stone", "a sling stone hitting"),
    ("wesnoth-1.16-data", r"/(claws|bite|bite-small|pincers|tail)\.", "impact", "flesh", "a creature's {1} attack"),
    ("wesnoth-1.16-data", r"/bat-flapping", "whoosh", "wings", "bat wings flapping"),
    ("wesnoth-1.16-data", r"/wolf-(growl|hit|die)", "dog", "wolf", "a wolf snarling"),
    ("wesnoth-1.16-data", r"/horse(-elf)?-canter", "hooves", "horse", "a horse cantering"),
    ("wesnoth-1.16-data", r"/horse-(die|hit)", "horse", "neigh", "a horse crying out"),
    ("wesnoth-1.16-data", r"/explosion", "explosion", "blast", "an explosion"),
    ("wesnoth-1.16-data", r"/(cave-in|rumble)", "crash", "rocks", "rocks collapsing"),
    ("wesnoth-1.16-data", r"/lightning\.", "thunder", "lightning", "a lightning strike"),
    ("wesnoth-1.16-data", r"/(fire|flame-big|melee-fire|torch)(-miss)?\.", "fire", "whoosh", "a burst of flame"),
    ("wesnoth-1.16-data", r"/fuse", "fire", "fuse", "a fuse burning"),
    ("wesnoth-1.16-data", r"/gold", "impact", "coins", "coins clinking"),
    ("wesnoth-1.16-data", r"/(gunshot|thunderstick|dragonstick)(-miss)?\.", "gunshot", "{1}", "a gunshot"),
    ("wesnoth-1.16-data", r"/open-chest", "door", "chest_open", "a chest opening"),
    ("wesnoth-1.16-data", r"/water-blast", "water", "splash", "a big splash of water"),
    ("wesnoth-1.16-data", r"/(mud-fist|mud-glob|squishy-hit|squishy-strike|squishy-miss)", "squelch", "mud", "a wet squelch"),
    ("wesnoth-1.16-data", r"/sounds/", D, "voice/magic", ""),
    # ---------------------------------------------------------------- Widelands (GPL-2+)
    ("widelands-data", r"/music/|/(click|lobby|message|military|create_construction)", D, "music/interface", ""),
    ("widelands-data", r"animals/bird", "bird", "songbird", "a bird singing"),
    ("widelands-data", r"animals/boar", "livestock", "boar", "a boar grunting"),
    ("widelands-data", r"animals/(coyote|wolf)", "dog", "{1}", "a {1} howling"),
    ("widelands-data", r"animals/crickets", "insect", "crickets", "crickets chirping"),
    ("widelands-data", r"animals/frog", "animal", "frog", "a frog croaking"),
    ("widelands-data", r"animals/(moose|stag)", "animal", "{1}", "a {1} calling"),
    ("widelands-data", r"critters/duck", "bird", "duck", "a duck quacking"),
    ("widelands-data", r"(cutting/stonecutter|stonecutting/)", "hammer", "stone", "cutting stone with a chisel"),
    ("widelands-data", r"(goldspin|weaver|weaving|mill_turning|mortar|stonegrind)", "machinery", "{1}", "a {1} machine working"),
    ("widelands-data", r"(saw/|sawmill)", "saw", "wood", "sawing wood"),
    ("widelands-data", r"blackwood", "hammer", "wood", "hammering wood"),
    ("widelands-data", r"taverns/", "machinery", "kitchen", "kitchen work: chopping and stirring"),
    ("widelands-data", r"(beer|wine)bubble", "bubbling", "brew", "liquid bubbling"),
    ("widelands-data", r"farm/(donkey|horse)", "horse", "{1}", "a {1} braying"),
    ("widelands-data", r"farm/(ox|sheep|farm_animal)", "livestock", "{1}", "farm animals"),
    ("widelands-data", r"farm/scythe", "foliage", "scythe", "a scythe cutting grass"),
    ("widelands-data", r"fisher/", "water", "splash", "a net splashing in water"),
    ("widelands-data", r"(hammering/|smiths/smith|smiths/toolsmith)", "hammer", "metal", "hammering metal"),
    ("widelands-data", r"smiths/sharpening", "scrape", "sharpen", "a blade sharpened on a stone"),
    ("widelands-data", r"metal/fizzle", "fire", "hiss", "hot metal quenched with a hiss"),
    ("widelands-data", r"metal/furnace", "fire", "furnace", "a furnace roaring"),
    ("widelands-data", r"metal/(gold|iron)ping", "impact", "metal", "a metal ping"),
    ("widelands-data", r"woodcutting/tree_falling", "crash", "tree", "a tree falling"),
    ("widelands-data", r"woodcutting/", "chop", "wood", "an axe chopping wood"),
    ("widelands-data", r"other/falling_tools", "impact", "tools", "tools falling"),
    # ---------------------------------------------------------------- FreedroidRPG (GPL-2+)
    ("freedroidrpg-data", r"effects/glass_break", "glass", "break", "glass breaking"),
    ("freedroidrpg-data", r"effects/blast_sound", "explosion", "blast", "an explosion"),
    ("freedroidrpg-data", r"item_sounds/(item_drop|drop_book|drop_potion|drop_sword)", "place", "item", "an item dropped"),
    ("freedroidrpg-data", r"effects/open_chest", "door", "chest_open", "a chest opening"),
    ("freedroidrpg-data", r"effects/swing_then_hit", "blade", "hit", "a swing that hits"),
    ("freedroidrpg-data", r"effects/swing_then_nohit", "whoosh", "swing", "a swing through the air"),
    ("freedroidrpg-data", r"effects/tux_footstep", "footstep", "generic", "a footstep"),
    ("freedroidrpg-data", r"bullets/military", "gunshot", "rifle", "a rifle shot"),
    ("freedroidrpg-data", r"bullets/sword", "blade", "swing", "a sword swing"),
    # ---------------------------------------------------------------- Tux Paint stamps (GPL-2)
    ("tuxpaint-stamps-default", r"_desc|_[a-z]{2}(_[a-z]{2})?\.(ogg|wav)$", D, "voice", ""),
    ("tuxpaint-stamps-default", r"animals/birds/(\w+)", "bird", "{1}", "a {1} calling"),
    ("tuxpaint-stamps-default", r"animals/mammals/dogs/(\w+)", "dog", "{1}", "a {1} barking"),
    ("tuxpaint-stamps-default", r"animals/mammals/cats/(\w+)", "big_cat", "{1}", "a {1} roaring"),
    ("tuxpaint-stamps-default", r"animals/mammals/bovines/(\w+)", "livestock", "{1}", "a {1} calling"),
    ("tuxpaint-stamps-default", r"animals/mammals/pig", "livestock", "pig", "a pig grunting"),
    ("tuxpaint-stamps-default", r"animals/mammals/equines/(\w+)", "horse", "{1}", "a {1} braying"),
    ("tuxpaint-stamps-default", r"animals/insects/(\w+)", "insect", "{1}", "a {1} buzzing"),
    ("tuxpaint-stamps-default", r"animals/amphibians/frog", "animal", "frog", "a frog croaking"),
    ("tuxpaint-stamps-default", r"animals/.*/(\w+)\.(ogg|wav)$", "animal", "{1}", "a {1} calling"),
    ("tuxpaint-stamps-default", r"seasonal/halloween/(blackcat|bat_left|spider)", "animal", "{1}", "a {1}"),
    ("tuxpaint-stamps-default", r"household/dishes/(glass|bottle)", "glass", "clink", "a {1} clinking"),
    ("tuxpaint-stamps-default", r"household/tools/(hammer|mallet_metal)", "hammer", "metal", "a hammer striking"),
    ("tuxpaint-stamps-default", r"household/tools/saw", "saw", "wood", "sawing wood"),
    ("tuxpaint-stamps-default", r"household/(vacuum_cleaner|washing-machine|kettle)", "machinery", "{1}", "a {1} running"),
    ("tuxpaint-stamps-default", r"household/toilet", "water", "flush", "a toilet flushing"),
    ("tuxpaint-stamps-default", r"household/arttools/scissors", "blade", "scissors", "scissors snipping"),
    ("tuxpaint-stamps-default", r"hobbies/camera", "impact", "click", "a camera shutter clicking"),
    ("tuxpaint-stamps-default", r"seasonal/newyears/fireworks", "explosion", "fireworks", "fireworks exploding"),
    ("tuxpaint-stamps-default", r"naturalforces/lightningbolt", "thunder", "lightning", "a lightning strike"),
    # ---------------------------------------------------------------- Sonic Pi samples (CC0 subset)
    ("sonic-pi-samples", r"/(ambi_swoosh|ambi_dark_woosh|perc_swoosh|perc_swash)", "whoosh", "swoosh", "a swoosh"),
    ("sonic-pi-samples", r"/perc_door", "door", "slam", "a door slamming"),
    ("sonic-pi-samples", r"/perc_impact", "impact", "heavy", "a heavy impact"),
    ("sonic-pi-samples", r"/perc_snap", "impact", "snap", "a finger snap"),
    ("sonic-pi-samples", r"/misc_cineboom", "explosion", "boom", "a deep cinematic boom"),
    ("sonic-pi-samples", r"/misc_crow", "bird", "crow", "a crow cawing"),
]

_COMPILED = [(pkg, re.compile(rx), cls, sub, desc) for pkg, rx, cls, sub, desc in RULES]


@dataclass(frozen=True)
class Label:
    cls: str | None  # None = dropped
    subclass: str  # or the reason for dropping
    description: str


def _fill(template: str, m: re.Match) -> str:
    out = template
    for i, g in enumerate(m.groups(), start=1):
        out = out.replace("{" + str(i) + "}", (g or "").replace("-", " ").replace("_", " ").strip())
    return out


def classify(package: str, relpath: str) -> Label:
    """Label of one source file; ``cls is None`` means drop (subclass says why)."""
    p = relpath.lower().replace("\\", "/")
    for pkg, rx, cls, sub, desc in _COMPILED:
        if pkg != package:
            continue
        m = rx.search(p)
        if m is None:
            continue
        if cls is None:
            return Label(None, sub, "")
        return Label(cls, _fill(sub, m).replace(" ", "_"), _fill(desc, m))
    return Label(None, "unlabelled", "")


def visual_kind(cls: str) -> str:
    return VISUAL_KIND.get(cls, "hit")
