"""Vocabulary of language identification, kept as data: codes, clusters, markers, scripts.

Nothing here runs a model. `transforms.enrich.language` reads these tables:

- `ISO_639_ALIASES`: declared codes (ISO 639-2/B, 639-2/T, 639-3 individual
  languages, deprecated 639-1 codes) to the code newsbeam writes.
- `MACROLANGUAGES`: a declared macrolanguage agrees with any of its members
  (``no`` with ``nb``/``nn``, ``ms`` with ``id``, ``sh`` with ``bs``/``hr``/``sr``).
- `CLUSTERS`: languages that fastText lid.176 confuses with each other (measured
  on the evaluation in benchmarks/eval_language.py); inside a cluster a second
  model restricted to the cluster decides.
- `EXTRA_LANGUAGES`: languages lid.176 does not know (or knows too badly to be
  used) and the second model does; they are candidates when fastText is unsure
  (of a short text: when lingua, asked over all its languages, ranks them among
  its first three).
- `MARKERS`: words that standard Bosnian, Croatian and (Latin) Serbian, or
  Malay and Indonesian, spell or say differently: month names, ijekavian and
  ekavian forms, loanword spellings, everyday vocabulary. Written from the
  documented differences between the standards, not learnt from a corpus;
  they settle the pairs that both models get wrong.
- `SCRIPT_RANGES`: Unicode blocks to ISO 15924 script codes.
"""
from __future__ import annotations

from typing import Dict, FrozenSet, List, Tuple

# fastText lid.176 labels that are not the code newsbeam writes.
FASTTEXT_LABELS: Dict[str, str] = {
    "als": "gsw",   # lid.176 uses "als" for Alemannic; in ISO 639-3 "als" is Tosk Albanian
    "no": "nb",     # Norwegian there is almost all Bokmål; the Nordic cluster decides
    "bh": "bho",    # Bihari (a deprecated 639-1 collective code)
    "eml": "egl",   # Emilian-Romagnol (retired 639-3 code; Emilian)
}

# lid.176 labels of a macrolanguage, whose probability is shared equally by its
# members: Serbo-Croatian (its Wikipedia mixes the three standards) says
# nothing of which; counting it as Croatian sent Bosnian text there.
FASTTEXT_SHARED: Dict[str, Tuple[str, ...]] = {"sh": ("bs", "hr", "sr")}

# Declared codes that are not ISO 639-1: 639-2/B and /T, individual 639-3
# codes of a macrolanguage's main member, and deprecated 639-1 codes.
ISO_639_ALIASES: Dict[str, str] = {
    "afr": "af", "amh": "am", "arg": "an", "ara": "ar", "arb": "ar", "asm": "as", "ava": "av",
    "aze": "az", "azj": "az", "bak": "ba", "bel": "be", "bul": "bg", "ben": "bn", "bod": "bo",
    "tib": "bo", "bre": "br", "bos": "bs", "cat": "ca", "che": "ce", "cos": "co", "ces": "cs",
    "cze": "cs", "chv": "cv", "cym": "cy", "wel": "cy", "dan": "da", "deu": "de", "ger": "de",
    "div": "dv", "ell": "el", "gre": "el", "eng": "en", "epo": "eo", "spa": "es", "est": "et",
    "ekk": "et", "eus": "eu", "baq": "eu", "fas": "fa", "per": "fa", "pes": "fa", "fin": "fi",
    "fra": "fr", "fre": "fr", "fry": "fy", "gle": "ga", "gla": "gd", "glg": "gl", "grn": "gn",
    "guj": "gu", "glv": "gv", "heb": "he", "hin": "hi", "hrv": "hr", "hat": "ht", "hun": "hu",
    "hye": "hy", "arm": "hy", "ina": "ia", "ind": "id", "ile": "ie", "ido": "io", "isl": "is",
    "ice": "is", "ita": "it", "jpn": "ja", "jav": "jv", "kat": "ka", "geo": "ka", "kaz": "kk",
    "khm": "km", "kan": "kn", "kor": "ko", "kur": "ku", "kom": "kv", "cor": "kw", "kir": "ky",
    "lat": "la", "ltz": "lb", "lug": "lg", "lim": "li", "lao": "lo", "lit": "lt", "lav": "lv",
    "lvs": "lv", "mlg": "mg", "mri": "mi", "mao": "mi", "mkd": "mk", "mac": "mk", "mal": "ml",
    "mon": "mn", "khk": "mn", "mar": "mr", "msa": "ms", "may": "ms", "zsm": "ms", "mlt": "mt",
    "mya": "my", "bur": "my", "nep": "ne", "npi": "ne", "nld": "nl", "dut": "nl", "nno": "nn",
    "nor": "no", "nob": "nb", "oci": "oc", "ori": "or", "oss": "os", "pan": "pa", "pol": "pl",
    "pus": "ps", "por": "pt", "que": "qu", "roh": "rm", "ron": "ro", "rum": "ro", "rus": "ru",
    "san": "sa", "srd": "sc", "snd": "sd", "sin": "si", "slk": "sk", "slo": "sk", "slv": "sl",
    "sna": "sn", "som": "so", "sqi": "sq", "alb": "sq", "srp": "sr", "sot": "st", "sun": "su",
    "swe": "sv", "swa": "sw", "swh": "sw", "tam": "ta", "tel": "te", "tgk": "tg", "tha": "th",
    "tuk": "tk", "tgl": "tl", "fil": "tl", "tsn": "tn", "tur": "tr", "tso": "ts", "tat": "tt",
    "uig": "ug", "ukr": "uk", "urd": "ur", "uzb": "uz", "uzn": "uz", "vie": "vi", "wln": "wa",
    "xho": "xh", "yid": "yi", "yor": "yo", "zho": "zh", "chi": "zh", "cmn": "zh", "zul": "zu",
    "hbs": "sh",
    # Deprecated ISO 639-1 codes still seen in the wild.
    "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro",
}

# A declared macrolanguage agrees with a detected member (and with itself).
MACROLANGUAGES: Dict[str, FrozenSet[str]] = {
    "no": frozenset({"nb", "nn"}),
    "sh": frozenset({"bs", "hr", "sr"}),
    "ms": frozenset({"id"}),
    "zh": frozenset({"wuu", "yue"}),
    "ar": frozenset({"arz"}),
}

# Languages fastText lid.176 confuses with each other. Serbian sits in two:
# with Bosnian and Croatian in Latin script, with the other Cyrillic languages
# in Cyrillic (`transforms.enrich.language` picks by script).
CLUSTERS: List[FrozenSet[str]] = [frozenset(c) for c in (
    {"bs", "hr", "sr", "sl"},
    {"da", "nb", "nn", "sv"},
    {"ms", "id"},
    {"af", "nl"},
    # Yoruba's tone marks read as Catalan to lid.176.
    {"ca", "es", "pt", "yo"},
    {"cs", "sk"},
    {"fi", "et"},
    {"az", "tr"},
    {"ru", "uk", "be", "bg", "mk", "sr", "kk", "mn"},
    # lid.176 calls 1.5% of Urdu sentences Western Punjabi (pnb), which the
    # second model does not know: with it on, pnb is reported as ur or fa.
    {"ur", "fa", "pnb"},
    {"zh", "ja"},
    {"hi", "mr"},
    # Maori's macrons read as Latvian to lid.176, which has no Maori.
    {"lv", "mi"},
)]
LATIN_SERBIAN_CLUSTER = CLUSTERS[0]
CYRILLIC_CLUSTER = CLUSTERS[8]

# Groups inside which the second model is not asked which member it is (it
# still weighs the group as a whole against other candidates): fastText and
# the marker words decide. lingua's Malay model calls formal Indonesian Malay
# (on the Universal Declaration of Human Rights, 38 of 92 Indonesian
# paragraphs with it, 20 without; its Malay training text is itself largely
# Indonesian, as the Malay test file is), and a label of `ms` on Indonesian
# text would be wrong.
FIRST_MODEL_DECIDES: Tuple[FrozenSet[str], ...] = (frozenset({"ms", "id"}),)

# Known to the second model only (or known too badly to lid.176 to be used:
# Somali and Yoruba came out at 10% and 3% on single sentences).
EXTRA_LANGUAGES: FrozenSet[str] = frozenset(
    {"lg", "mi", "sn", "st", "tn", "ts", "xh", "zu", "so", "yo"})

# The reflex of the old vowel yat is what tells standard Serbian (ekavian:
# vreme, mesto, čovek) from Bosnian and Croatian (ijekavian: vrijeme, mjesto,
# čovjek). The same words in the two pronunciations; the ekavian forms are
# Serbian markers, the ijekavian ones Bosnian and Croatian markers, so a
# text's forms first set Serbian against the other two, whose own vocabulary
# then decides between them (`transforms.enrich.language.marker_choice`).
_YAT_PAIRS = """
    vreme:vrijeme mesto:mjesto mestu:mjestu mesta:mjesta deca:djeca decu:djecu dece:djece
    dete:dijete deteta:djeteta svet:svijet sveta:svijeta svetu:svijetu svetski:svjetski
    svetskog:svjetskog svetske:svjetske svetskom:svjetskom čovek:čovjek čoveka:čovjeka
    čoveku:čovjeku čovečanstva:čovječanstva reč:riječ reči:riječi rečima:riječima
    lepo:lijepo lep:lijep lepa:lijepa lepe:lijepe vek:vijek veka:vijeka veku:vijeku
    mleko:mlijeko pesma:pjesma pesme:pjesme pesmu:pjesmu pesnik:pjesnik telo:tijelo
    tela:tijela telu:tijelu ceo:cijeli cela:cijela celo:cijelo celog:cijelog celu:cijelu
    uvek:uvijek gde:gdje posle:poslije pre:prije vest:vijest vesti:vijesti beli:bijeli
    bela:bijela belo:bijelo bele:bijele reka:rijeka reke:rijeke videti:vidjeti
    želeo:želio želela:željela hteo:htio htela:htjela mesec:mjesec meseca:mjeseca
    meseci:mjeseci mesecu:mjesecu cena:cijena cene:cijene cenu:cijenu deo:dio dela:djela
    delo:djelo nedelja:nedjelja nedelje:nedjelje zvezda:zvijezda zvezde:zvijezde
    sneg:snijeg levo:lijevo vera:vjera vere:vjere verovati:vjerovati veruje:vjeruje
    vetar:vjetar mera:mjera mere:mjere rešenje:rješenje rešenja:rješenja sever:sjever
    severu:sjeveru severno:sjeverno sedište:sjedište sećanje:sjećanje leto:ljeto
    leta:ljeta letu:ljetu pevač:pjevač uspeh:uspjeh uspeha:uspjeha uspešno:uspješno
    devojka:djevojka devojke:djevojke primer:primjer primera:primjera primeru:primjeru
    ponedeljak:ponedjeljak sreda:srijeda savest:savjest predsednik:predsjednik
    predsednika:predsjednika zamenik:zamjenik cveće:cvijeće cvet:cvijet
    obaveštenje:obavještenje svetlo:svjetlo svetlost:svjetlost smer:smjer verski:vjerski
    podela:podjela odeljenje:odjeljenje vređali:vrijeđali sme:smije smeju:smiju svest:svijest
    svesti:svijesti svešću:sviješću veroispovest:vjeroispovijest veroispovesti:vjeroispovijesti
    proteran:protjeran nečovečno:nečovječno bezbednost:bezbjednost bezbedno:bezbjedno
    ovde:ovdje onde:ondje negde:negdje nigde:nigdje sedeti:sjediti seo:sjeo osećaj:osjećaj
    oseća:osjeća promena:promjena promene:promjene promenu:promjenu izmena:izmjena
    zamena:zamjena namera:namjera seme:sjeme uveren:uvjeren proveriti:provjeriti
    provera:provjera vežba:vježba posledica:posljedica posledice:posljedice
    poslednji:posljednji poslednjih:posljednjih sledeći:sljedeći sledeće:sljedeće
    sledećeg:sljedećeg pobeda:pobjeda pobede:pobjede pobedu:pobjedu pobedio:pobijedio
    obeležje:obilježje razumevanje:razumijevanje zahtev:zahtjev zahteva:zahtjeva
    zahtevi:zahtjevi delovanje:djelovanje delatnost:djelatnost mešavina:mješavina
    smešten:smješten smeštaj:smještaj primena:primjena primenu:primjenu
    primeniti:primijeniti odeća:odjeća"""
_EKAVIAN = " ".join(pair.split(":")[0] for pair in _YAT_PAIRS.split())
_IJEKAVIAN = " ".join(pair.split(":")[1] for pair in _YAT_PAIRS.split())

# Marker words of closely related standards, lowercase. A word counts for
# every standard whose list holds it.
_MARKERS = {
    "ms": """kerana bahawa iaitu sahaja baharu selepas mahu syarikat pelbagai kerajaan wang cuba
        polis teksi universiti ogos julai disember percuma menerusi memandangkan hendaklah
        kenderaan kereta perniagaan kerjaya pejabat hospital doktor tandas kedai faedah encik
        awak kakitangan tempoh semasa manakala mesyuarat pengurusan pengarah setiausaha
        kenyataan projek maklumat peratus kualiti aktiviti komuniti identiti kapasiti realiti
        khabar belia semula sebarang lelaki kanak-kanak bermula sempena seramai inggeris jepun
        bilik perlu kawasan terutamanya berbanding sesiapa mana-mana apa-apa akhbar mahkamah
        peguam awam bandar basikal jabatan seluar kasut tingkap almari filem muzik sukan
        jurulatih isnin khamis jumaat mac jun bahagian rasmi cukai insurans kerusi televisyen
        perisian kempen jururawat pelancong pelancongan ibubapa""",
    "id": """karena bahwa yaitu saja setelah mau perusahaan pemerintah uang coba taksi
        universitas agustus juli juni desember maret bisa nggak gak enggak kalian kantor mobil
        dokter toko bandara sekretaris direktur persen informasi proyek kualitas aktivitas
        komunitas identitas kapasitas realitas kabar pernyataan manajemen sih dong kok
        banget aja udah gimana pria jepang inggris tiongkok bagian resmi pajak asuransi kursi
        televisi situs kampanye pemilu perawat wisatawan pariwisata hendaknya senin kamis
        jumat gratis sepeda sepatu celana jendela lemari musik olahraga pengacara pengadilan
        provinsi departemen""",
    "hr": """tisuća tisuću tisuće tjedan tjedna tjednu tjedno tjedana kruh kava kavu vlak vlaka
        kazalište kazališta glazba glazbe glazbu glazbeni glazbena sveučilište sveučilišta
        zrakoplov zrakoplova točno točka točke tko povijest povijesti povijesni povijesne
        znanost znanosti znanstveni znanstvena obitelj obitelji siječanj siječnja veljača
        veljače ožujak ožujka travanj travnja svibanj svibnja lipanj lipnja srpanj srpnja kolovoz
        kolovoza rujan rujna listopad listopada studeni studenog studenoga prosinac prosinca
        uvjet uvjeti uvjeta uvjete tvrtka tvrtke tvrtki izvješće izvješća mirovina mirovine
        nogomet nogometni otok otoka otoku tijekom primjerice stoga dakako gospodarstvo
        gospodarstva gospodarski gospodarske europa europe europski europske europskoj
        financijski financijske financija vjerojatno organizirati organiziran organizira
        realizirati informirati definirati kontrolirati zrak zraka kat susjed susjedi sretan
        trebao htio suradnja suradnje suradnju razina razini liječnik ljekarna prijevod
        sudjelovati sudjelovanje kemija uopće stoljeće stoljeća stoljeću nitko svatko
        članak članka
        milijun milijuna postotak postotaka postotka ljekarna putovnica utjecaj utjecaja
        utjecati inozemstvo inozemstva natjecanje natjecanja natjecatelj promatrati tvornica
        tvornice računalo računala tajnik veleposlanstvo veleposlanik priopćenje priopćio
        kirurg nogometaš sukladno temeljem nazočni djelatnici uporaba uporabe """ + _IJEKAVIAN,
    "bs": """hiljada hiljadu hiljade hiljadama sedmica sedmice sedmicu historija historije historiji
        historijski historijske porodica porodice porodici porodicu univerzitet univerziteta
        fudbal fudbalski pozorište pozorišta muzika muzike muziku tačno tačka tačke hljeb uslov
        uslovi uslova ko šta opština opštine penzija penzije januar januara februar februara
        mart marta april aprila maj maja juni juna juli jula august augusta septembar septembra
        oktobar oktobra novembar novembra decembar decembra ostrvo ostrva vazduh vazduha sprat
        komšija komšije lahko kahva kafa evropa evrope evropski evropske evropskoj finansijski
        finansijske organizovati organizovan organizuje realizovati informisati definisati
        kontrolisati vjerovatno tokom saradnja saradnje saradnju nivo nivou ljekar prevod
        učešće učestvovati hemija uopšte takođe džamija džamije hadis ahiret dunjaluk sevap
        rahmetli namaz abdest ramazan bajram čaršija avlija okean okeana okeanu muzici
        odbrana odbrane odbranu preduzeće preduzeća preduzetnik kćerka nauka nauke naučni
        naučnici desilo desila dešava spisak niko svako
        milion miliona milioni procenat procenata procenta apoteka apoteke pasoš uticaj uticaja
        uticati utiče inostranstvo inostranstva takmičenje takmičenja takmičar posmatrati
        fabrika fabrike voz voza računar sekretar saopštenje saopštio hirurg fudbaler
        vaspitanje zvanični zvaničnik zvaničnici sprovesti sprovodi """ + _IJEKAVIAN,
    "sr": """hiljada hiljadu hiljade sedmica sedmice istorija istorije istoriji istorijski porodica
        porodice porodici univerzitet fudbal pozorište muzika tačno tačka hleb uslov uslovi ko
        šta opština opštine opšti penzija januar januara februar februara mart marta april
        aprila maj maja jun juna jul jula avgust avgusta septembar septembra oktobar oktobra
        novembar novembra decembar decembra ostrvo vazduh sprat komšija kafa evropa evropski
        finansijski organizovati verovatno tokom saradnja saradnje nivo lekar prevod učešće
        hemija uopšte takođe niko svako
        milion miliona milioni procenat procenata procenta apoteka apoteke pasoš uticaj uticaja
        uticati utiče inostranstvo inostranstva takmičenje takmičenja takmičar posmatrati
        fabrika fabrike voz voza računar sekretar saopštenje saopštio hirurg fudbaler
        vaspitanje zvanični zvaničnik zvaničnici sprovesti sprovodi """ + _EKAVIAN,
    # Nynorsk and Bokmål spell the same everyday words differently (ikkje/ikke,
    # eg/jeg, kva/hva, frå/fra, mykje/mye...); Danish shares most Bokmål forms,
    # so these only ever decide between nb and nn.
    "nn": """ikkje eg ho dei berre kva korleis kvifor kven noko nokon nokre mykje frå vere vera
        heile saman fleire eit gjekk vore òg sjølv difor framleis medan viss kvar korkje meir
        eigen eige einaste enno tidlegare særleg mogleg truleg heilt seier fekk vart kome kjem
        gjer gjere hjå utan deira hennar noreg noregs dykk dykkar""",
    "nb": """ikke jeg hun bare hva hvordan hvorfor hvem noe noen mye fra være hele sammen flere
        et gikk vært selv derfor fortsatt mens hvis hvor hver mer egen eget eneste ennå
        tidligere særlig mulig trolig helt sier fikk ble komme kommer gjør gjøre hos uten
        deres hennes norge norges""",
}
MARKERS: Dict[str, FrozenSet[str]] = {lang: frozenset(words.split())
                                      for lang, words in _MARKERS.items()}
# The groups inside which markers decide, when they point one way.
MARKER_GROUPS: Tuple[Tuple[str, ...], ...] = (("bs", "hr", "sr"), ("ms", "id"), ("nb", "nn"))

# (first code point, last code point, ISO 15924 code), sorted, not overlapping.
SCRIPT_RANGES: Tuple[Tuple[int, int, str], ...] = (
    (0x0041, 0x005A, "Latn"), (0x0061, 0x007A, "Latn"), (0x00C0, 0x024F, "Latn"),
    (0x0370, 0x03FF, "Grek"), (0x0400, 0x052F, "Cyrl"), (0x0530, 0x058F, "Armn"),
    (0x0590, 0x05FF, "Hebr"), (0x0600, 0x06FF, "Arab"), (0x0700, 0x074F, "Syrc"),
    (0x0750, 0x077F, "Arab"), (0x0780, 0x07BF, "Thaa"), (0x08A0, 0x08FF, "Arab"),
    (0x0900, 0x097F, "Deva"), (0x0980, 0x09FF, "Beng"), (0x0A00, 0x0A7F, "Guru"),
    (0x0A80, 0x0AFF, "Gujr"), (0x0B00, 0x0B7F, "Orya"), (0x0B80, 0x0BFF, "Taml"),
    (0x0C00, 0x0C7F, "Telu"), (0x0C80, 0x0CFF, "Knda"), (0x0D00, 0x0D7F, "Mlym"),
    (0x0D80, 0x0DFF, "Sinh"), (0x0E00, 0x0E7F, "Thai"), (0x0E80, 0x0EFF, "Laoo"),
    (0x0F00, 0x0FFF, "Tibt"), (0x1000, 0x109F, "Mymr"), (0x10A0, 0x10FF, "Geor"),
    (0x1100, 0x11FF, "Hang"), (0x1200, 0x139F, "Ethi"), (0x13A0, 0x13FF, "Cher"),
    (0x1400, 0x167F, "Cans"), (0x1780, 0x17FF, "Khmr"), (0x1800, 0x18AF, "Mong"),
    (0x1C80, 0x1C8F, "Cyrl"), (0x1C90, 0x1CBF, "Geor"), (0x1E00, 0x1EFF, "Latn"),
    (0x1F00, 0x1FFF, "Grek"), (0x2C60, 0x2C7F, "Latn"), (0x2D00, 0x2D2F, "Geor"),
    (0x2D30, 0x2D7F, "Tfng"), (0x2DE0, 0x2DFF, "Cyrl"), (0x3040, 0x309F, "Hira"),
    (0x30A0, 0x30FF, "Kana"), (0x3130, 0x318F, "Hang"), (0x31F0, 0x31FF, "Kana"),
    (0x3400, 0x4DBF, "Hani"), (0x4E00, 0x9FFF, "Hani"), (0xA640, 0xA69F, "Cyrl"),
    (0xA720, 0xA7FF, "Latn"), (0xAC00, 0xD7AF, "Hang"), (0xF900, 0xFAFF, "Hani"),
    (0xFB1D, 0xFB4F, "Hebr"), (0xFB50, 0xFDFF, "Arab"), (0xFE70, 0xFEFF, "Arab"),
    (0xFF21, 0xFF3A, "Latn"), (0xFF41, 0xFF5A, "Latn"), (0xFF66, 0xFF9F, "Kana"),
    (0x20000, 0x2FFFF, "Hani"),
)
# Scripts of which one character says about as much as a short word.
IDEOGRAPHIC_SCRIPTS = frozenset({"Hani", "Hira", "Kana", "Hang", "Jpan"})

# The 176 labels of fastText lid.176 (as the model names them).
FASTTEXT_176: FrozenSet[str] = frozenset("""
af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb ckb
co cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gu gv he
hi hif hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw ky la lb lez
li lmo lo lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl my myv mzn nah nap nds ne new nl nn
no oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru rue sa sah sc scn sco sd sh si sk sl so sq sr
su sv sw ta te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa war wuu xal xmf yi yo yue
zh""".split())
