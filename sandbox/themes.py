"""The themes the sandbox catalogue is grown from, and the words it names things with.

Rebrickable ids are the real ones where the reference names them (Star Wars 158,
Ultimate Collector Series 171 under it); the others are plausible.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ThemeSpec:
    id: int  # Rebrickable theme id
    name: str  # Rebrickable theme name
    parent_id: int | None
    brickset_theme: str  # a child theme is a subtheme of its parent on Brickset
    theme_group: str
    prefix: str  # BrickLink minifig number prefix, shared by a parent and its children
    digits: int
    years: tuple[int, int]
    sets_per_year: tuple[int, int]
    set_base: int  # first set number; numbers grow in steps of 3 to 12 and must not meet another theme's
    figure_count: int
    median_price_cents: int  # a new, complete figure on eBay US
    bricklink_category_id: int
    subthemes: tuple[str, ...]
    characters: tuple[str, ...]
    set_words: tuple[str, ...]


THEME_SPECS: tuple[ThemeSpec, ...] = (
    ThemeSpec(
        158, "Star Wars", None, "Star Wars", "Licensed", "sw", 4, (1999, 2025), (2, 3), 7100, 80, 900, 65,
        ("Episode I", "Original Trilogy", "The Clone Wars", "The Mandalorian", "Sequel Trilogy"),
        ("Battle Droid", "Clone Trooper", "Stormtrooper", "Darth Vader", "Luke Skywalker", "Han Solo",
         "Princess Leia", "Obi-Wan Kenobi", "Yoda", "Chewbacca", "Boba Fett", "Darth Maul", "Qui-Gon Jinn",
         "Rey", "Kylo Ren", "The Mandalorian", "Grogu", "Ahsoka Tano", "Captain Rex", "Snowtrooper",
         "Scout Trooper", "TIE Fighter Pilot", "Rebel Pilot", "Lando Calrissian", "Jango Fett", "Padme Amidala",
         "Mace Windu", "Anakin Skywalker", "Emperor Palpatine", "Poe Dameron"),
        ("Lightsaber Duel", "X-wing Fighter", "Naboo Swamp", "AT-ST", "Droid Escape", "Republic Gunship",
         "Snowspeeder", "TIE Interceptor", "Cloud City", "Jedi Starfighter", "Razor Crest", "Battle Pack"),
    ),
    ThemeSpec(
        171, "Ultimate Collector Series", 158, "Star Wars", "Licensed", "sw", 4, (2000, 2025), (0, 1), 10170, 10,
        2400, 65, ("Ultimate Collector Series",),
        ("Han Solo", "Chewbacca", "Princess Leia", "Darth Vader", "Imperial Officer", "Luke Skywalker",
         "Obi-Wan Kenobi", "Boba Fett", "Din Djarin", "Death Star Gunner"),
        ("Millennium Falcon", "Imperial Star Destroyer", "Death Star", "Slave I", "AT-AT", "Razor Crest"),
    ),
    ThemeSpec(
        186, "Castle", None, "Castle", "Historical", "cas", 4, (1999, 2013), (1, 3), 6000, 35, 1100, 47,
        ("Knights' Kingdom", "Fantasy Era", "Kingdoms"),
        ("Black Knight", "Lion Knight", "Dragon Knight", "King", "Queen", "Wizard", "Skeleton Warrior",
         "Dwarf Miner", "Troll Warrior", "Archer", "Princess", "Blacksmith", "Jester", "Crown Knight"),
        ("Castle Siege", "Drawbridge", "Dragon Tower", "Battle Wagon", "Knight's Outpost", "Prison Tower"),
    ),
    ThemeSpec(
        435, "Ninjago", None, "Ninjago", "Action/Adventure", "njo", 4, (2011, 2025), (2, 3), 70500, 55, 500, 758,
        ("Legacy", "Masters of Spinjitzu", "Dragons Rising", "Crystalized"),
        ("Kai", "Jay", "Cole", "Zane", "Lloyd", "Nya", "Sensei Wu", "Garmadon", "Skeleton", "Serpentine Warrior",
         "Samurai X", "Pythor", "Wyldfyre", "Arin", "Sora", "Misako", "Stone Army Warrior"),
        ("Dragon Battle", "Spinjitzu Dojo", "Ninja Mech", "Temple of Light", "Storm Fighter", "Monastery"),
    ),
    ThemeSpec(
        535, "Collectible Minifigures", None, "Collectable Minifigures", "Miscellaneous", "col", 3, (2010, 2025),
        (0, 1), 8680, 64, 600, 746, (),
        ("Zombie", "Caveman", "Spaceman", "Nurse", "Cheerleader", "Clown", "Ninja", "Robot", "Pharaoh",
         "Lifeguard", "Surfer", "Mime", "Pirate Captain", "Circus Strongman", "Gorilla Suit Guy", "Mermaid",
         "Vampire", "Witch", "Werewolf", "Breakdancer", "Hot Dog Man", "Unicorn Girl", "Wildlife Photographer",
         "Ice Skater", "Racing Car Driver", "Snake Charmer", "Bumblebee Girl", "Fortune Teller", "Genie",
         "Brick Suit Guy", "Sheriff", "Highland Battler", "Butterfly Girl", "Lion Dancer", "Space Police Guy",
         "Bagpiper", "Gingerbread Man", "Hula Dancer", "Skier", "Cyclops"),
        ("Minifigure Series",),
    ),
    ThemeSpec(
        52, "City", None, "City", "Modern day", "cty", 4, (2005, 2025), (2, 3), 60000, 50, 400, 772,
        ("Police", "Fire", "Space", "Construction", "Airport", "Town"),
        ("Police Officer", "Firefighter", "Construction Worker", "Pilot", "Astronaut", "Doctor", "Crook",
         "Mail Carrier", "Chef", "Farmer", "Race Driver", "Coast Guard", "Scientist", "Bus Driver",
         "Skateboarder", "Train Driver"),
        ("Police Station", "Fire Truck", "Cargo Plane", "Space Rocket", "Crane", "Hospital", "Bank Heist",
         "Ambulance", "Tow Truck", "Farm"),
    ),
    ThemeSpec(
        246, "Harry Potter", None, "Harry Potter", "Licensed", "hp", 4, (2001, 2025), (1, 3), 4000, 35, 800, 570,
        ("Chamber of Secrets", "Prisoner of Azkaban", "Hogwarts", "Fantastic Beasts"),
        ("Harry Potter", "Hermione Granger", "Ron Weasley", "Albus Dumbledore", "Severus Snape", "Draco Malfoy",
         "Hagrid", "Lord Voldemort", "Professor McGonagall", "Neville Longbottom", "Luna Lovegood",
         "Dobby", "Sirius Black", "Bellatrix Lestrange"),
        ("Hogwarts Castle", "Knight Bus", "Diagon Alley", "Quidditch Match", "Hogwarts Express", "Great Hall"),
    ),
    ThemeSpec(
        482, "Super Heroes", None, "Super Heroes", "Licensed", "sh", 4, (2012, 2025), (2, 3), 76000, 45, 1000, 768,
        ("Avengers", "Batman", "Spider-Man", "Justice League", "Guardians of the Galaxy"),
        ("Batman", "Spider-Man", "Iron Man", "Captain America", "Thor", "Hulk", "Black Widow", "Wonder Woman",
         "Superman", "The Joker", "Catwoman", "Black Panther", "Doctor Strange", "Star-Lord", "Groot",
         "Green Lantern", "Loki", "Venom"),
        ("Batmobile", "Quinjet", "Avengers Tower", "Bridge Battle", "Spider-Man Mech", "Hulkbuster"),
    ),
)

# A figure's name is its character, then as many of these as make it unique.
DESCRIPTORS: tuple[str, ...] = (
    "Dark Bluish Gray Legs", "Printed Arms", "Hood", "Cape", "Dual Molded Legs", "Headset", "Smile",
    "Open Mouth", "Backpack", "Helmet", "Reddish Brown Hair", "Tan", "White Pupils", "Scarf", "Armor",
    "Angled Arms", "Short Legs", "Winter Outfit", "Battle Damaged", "Gold Trim", "Dark Red Torso", "Goggles",
)

# Named leads draw more listings than background figures.
STAR_CHARACTERS: frozenset[str] = frozenset({
    "Darth Vader", "Luke Skywalker", "Boba Fett", "Yoda", "The Mandalorian", "Grogu", "Harry Potter",
    "Batman", "Spider-Man", "Iron Man", "Lloyd", "Black Knight", "Zombie", "Albus Dumbledore", "Din Djarin",
})
