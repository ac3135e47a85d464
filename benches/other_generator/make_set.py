#!/usr/bin/env python3
"""Synthetic UK-style record-linkage test set (stdlib only, independent design).

Writes left.csv, right.csv and truth.csv into --out-dir.  Deterministic per --seed.
Name/street/town pools are fixed (built with their own fixed RNG), only people vary by seed.
"""
import argparse, csv, os, random, re, sys, time
from bisect import bisect
from datetime import date, timedelta
from itertools import accumulate

MALE = """Oliver Harry Jack Charlie Jacob Thomas George Oscar James William Noah Alfie Joshua Henry Leo Archie Ethan
Joseph Freddie Samuel Alexander Logan Daniel Isaac Max Benjamin Mason Lucas Edward Harrison Jake Dylan Riley Finley
Theo Sebastian Adam Zachary Arthur Toby Jayden Luke Harley Lewis Tyler Harvey Matthew David Reuben Michael Elijah Kian
Tommy Blake Luca Theodore Stanley Jenson Nathan Charles Frankie Jude Teddy Louie Louis Ryan Hugo Bobby Elliott Dexter
Ollie Alex Liam Kai Gabriel Connor Aaron Frederick Callum Albert Leon Ronnie Rory Jamie Austin Seth Owen Caleb Ellis
Sonny Robert Joey Felix Finlay Jackson John Peter Paul Stephen Mark Andrew Richard Christopher Anthony Kevin Ian Gary
Martin Simon Neil Graham Keith Colin Brian Alan Derek Trevor Kenneth Malcolm Roger Barry Philip Terence Dennis Raymond
Geoffrey Norman Ronald Leslie Frank Harold Ernest Walter Sidney Cyril Gordon Douglas Donald Roy Clive Nigel Stuart
Darren Lee Craig Wayne Dean Carl Jason Scott Shaun Gareth Rhys Dafydd Huw Gethin Owain Iwan Ewan Angus Hamish Fraser
Alasdair Duncan Gregor Ruaridh Calum Declan Ciaran Niall Padraig Eoin Cormac Conor Sean Patrick Brendan Dermot Kieran
Shane Gavin Ross Robbie Jordan Bradley Jonathan Timothy Nicholas Julian Adrian Vincent Victor Francis Bernard Gerald
Howard Russell Edwin Herbert Glyn Idris Emlyn Alun Bryn Iain Murdo Lachlan Ruairi Fergus Cathal Eamon Ronan Aidan
Gregory Dominic Marcus Oscar Rupert Giles Jeremy Roland Wilfred Horace Percy Reginald Stanley Leonard Eric Dale Ashley
Jasper Rowan Spencer Warren Grant Mitchell Lloyd Neville Desmond Clifford Dominik Tobias Nathaniel Jonah Ezra Rafael""".split()
FEMALE = """Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Willow Florence Emily Ella Poppy
Evie Elsie Charlotte Evelyn Sienna Sofia Daisy Phoebe Sophie Alice Harper Matilda Ruby Emilia Maya Millie Isabelle Eva
Luna Jessica Aria Scarlett Esme Chloe Layla Eliza Mila Imogen Harriet Erin Lucy Holly Hannah Ellie Molly Lola Maisie
Thea Heidi Bella Martha Georgia Amber Summer Violet Nancy Hallie Darcie Aurora Penelope Robyn Anna Orla Megan Jasmine
Katie Lauren Rebecca Amy Bethany Abigail Leah Niamh Caitlin Eleanor Victoria Elizabeth Sarah Laura Emma Gemma Kelly
Nicola Claire Louise Michelle Lisa Joanne Helen Rachel Karen Julie Tracey Donna Deborah Angela Susan Jacqueline Alison
Amanda Carol Janet Linda Patricia Christine Margaret Pauline Sandra Gillian Wendy Lorraine Dawn Sharon Beverley Hazel
Jean Joan Dorothy Mary Barbara Irene Doreen Brenda Eileen Sheila Shirley Maureen Valerie Joyce Kathleen Edna Gladys
Marjorie Phyllis Vera Mabel Ethel Hilda Winifred Betty Audrey Rita Sylvia Ann Anne Jane Catherine Katherine Frances
Judith Marion Rosemary Diane Jennifer Lesley Heather Fiona Moira Morag Eilidh Kirsty Shona Ailsa Catriona Siobhan
Aoife Roisin Ciara Sinead Aisling Deirdre Bronwen Cerys Seren Ffion Carys Angharad Rhiannon Sian Nia Gwen Bridget
Naomi Natalie Samantha Stephanie Danielle Charlene Stacey Kerry Leanne Kimberley Jodie Zoe Natasha Vanessa Hayley
Kayleigh Chelsea Jade Shannon Courtney Paige Alexandra Josephine Pamela Tina Yvonne Jill Sally Kate Lydia Rose Iris
Edith Mabel Agnes Nora Beatrice Clara Annie Jenny Hollie Abbie Tilly Freya Elise Nell Polly Tessa Rowena Mairead
Eimear Grainne Orlaith Una Morwenna Tegan Eleri Lowri Mhairi Iona Skye Kirsteen Elspeth Jemima Arabella Cordelia
Felicity""".split()
UK_SUR = """Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright
Walker White Edwards Hughes Green Hall Lewis Harris Clarke Jackson Wood Turner Martin Cooper Hill Ward Morris Moore
Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths
Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Marshall Anderson Simpson
Ellis Adams Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Hunt Campbell Matthews Owen Palmer Holmes Mills
Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Fletcher Walsh
Gibson Howard Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole Atkinson
Bradley Spencer Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan Grant Wells Armstrong Francis Rees Hayes
Hart Hudson Newman Barrett Webster Hunter Gregory Carr Lowe Page Marsh Riley Dunn Woods Parsons Berry Stone Reid
Holland Hawkins Harding Porter Robertson Newton Oliver Reed Kennedy Williamson Bird Gardner Dean Lane Cooke Bates
Henderson Parry Burgess Bishop Walton Burns Nicholson Shepherd Ross Cross Long Freeman Warren Nicholls Hamilton Byrne
Sutton McDonald Yates Hodgson Robson Curtis Hopkins O'Connor Harper Coleman Watkins Moss McCarthy Chambers O'Neill
Griffin Sharp Hardy Wheeler Potter Osborne Johnston Gordon Doyle Wallace George Jordan Hutchinson Rowe Burke May
Pritchard Gilbert Willis Higgins Read Miles Stevenson Stephenson Hammond Arnold Buckley Walters Hewitt Barber Nelson
Slater Austin Sullivan Whitehead Mann Frost Lambert Stephens Blake Lynch Goodwin Barton Woodward Thomson Cunningham
Quinn Barnett Baxter Clayton Nash Greenwood Jennings Holt Kemp Poole Gallagher Bond Stokes Tucker Davidson Fowler
Heath Norman Middleton Lawson Banks French Stanley Jarvis Gibbs Ferguson Hayward Carroll Douglas Dickinson Todd Barlow
Peters Lucas Knowles Hartley Simmons Morton Alexander Field Morrison Norris Townsend Preston Hancock Thornton Baldwin
Burrows Briggs Storey Pollard Kirby Duffy MacDonald MacLeod Fraser Paterson Maclean Mackenzie Sinclair Munro Grieve
Pugh Vaughan Bowen Howells Llewellyn O'Sullivan O'Reilly Doherty McLaughlin Brennan Flanagan Kavanagh Fitzgerald Nolan
Maguire Dunne Keane McKenna Gallacher Crawford Kerr Macpherson Drummond Rennie""".split()
ETH = [  # (surnames, male given, female given, total surname share)
 ("""Patel Khan Ahmed Ali Hussain Begum Shah Singh Kaur Rahman Islam Akhtar Iqbal Mahmood Sharma Chauhan Mistry Parmar
  Mehta Sandhu Choudhury Miah Uddin Malik Butt Bibi Raza Qureshi Desai Bhatti Aslam Anwar Javed Rana Kumar""".split(),
  "Mohammed Muhammad Ali Ahmed Hassan Imran Zain Amir Arjun Rahul Vikram Sanjay Harpreet Gurpreet Rajesh Aditya".split(),
  "Aisha Fatima Maryam Zara Amina Noor Priya Anjali Sunita Simran Harleen Nadia Ayesha Hina Sana Zainab".split(), 0.08),
 ("""Nowak Kowalski Wisniewski Wojcik Kowalczyk Kaminski Lewandowski Zielinski Szymanski Wozniak Dabrowski Kozlowski
  Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski Nowakowski Pawlowski""".split(),
  "Jakub Kacper Piotr Tomasz Mateusz Krzysztof Pawel Michal Marek Lukasz".split(),
  "Zuzanna Julia Agnieszka Katarzyna Magdalena Aleksandra Joanna Monika Natalia Ewa".split(), 0.025),
 ("""Okafor Adeyemi Okonkwo Mensah Owusu Boateng Asante Adebayo Ogunleye Eze Nwosu Obi Afolabi Bello Osei Appiah
  Danso Adjei Ibrahim Balogun Olaniyan Ogundipe Oyelaran Nwachukwu""".split(),
  "Chinedu Emeka Kwame Kofi Oluwaseun Tunde Femi Kwabena Obinna Segun".split(),
  "Chiamaka Ngozi Adaeze Abena Akosua Funmilayo Yetunde Ama Efua Blessing".split(), 0.02),
 ("""Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo Lin He Gao Wong Chan Lam Cheung Leung Ng Ho
  Tang Yip Lau""".split(),
  "Wei Jun Hao Ming Jian Lei Kai Yu Tao Bo".split(),
  "Mei Xin Ying Hui Jing Yan Fang Lan Qing Xiu".split(), 0.025)]
ROOTS = """Ash Brad Brook Cart Clay Craw Dun Fair Green Hart Hol Lang Mar Mil Nor Pen Red Ren Shel Stan Thorn Wal Whit
Ald Bar Bel Black Bran Brom Cal Chal Cod Cran Dal Dray Elm Farn Gar Hal Hum Kem Kin Lid Lox Mor Ox Ray Rid Rush Sal
Sed Stam Stock Sut Tam Wy Ather Birk Cals Dews Eas Frod Gos Hav Ips Kel Lyd Mal Nad Ot Pil Quen Rams Sand Tad Up Wath""".split()
SUFFIXES = "ford ley ton field well worth by ham wick more land cott wood stone bridge dale hurst mere combe shaw thorpe".split()
NICK = dict(x.split(":") for x in """William:Bill/Will/Billy Robert:Bob/Rob/Bobby Richard:Rick/Dick/Richie
James:Jim/Jimmy/Jamie John:Jack/Johnny Michael:Mike/Mick Thomas:Tom/Tommy Christopher:Chris Anthony:Tony
Andrew:Andy/Drew Daniel:Dan/Danny Matthew:Matt Joseph:Joe Edward:Ed/Ted/Eddie Alexander:Alex/Sandy Samuel:Sam
Benjamin:Ben Jonathan:Jon Nicholas:Nick Stephen:Steve Peter:Pete David:Dave Frederick:Fred/Freddie Kenneth:Ken
Timothy:Tim Gregory:Greg Patrick:Pat/Paddy Charles:Charlie/Chas Henry:Harry Leonard:Len Raymond:Ray Terence:Terry
Elizabeth:Liz/Beth/Betty/Lizzie Margaret:Maggie/Peggy/Meg Catherine:Kate/Cathy Katherine:Kate/Kathy
Jennifer:Jenny/Jen Rebecca:Becky Victoria:Vicky/Tori Susan:Sue/Susie Deborah:Debbie/Deb Samantha:Sam
Jacqueline:Jackie Patricia:Pat/Trish Christine:Chris Alexandra:Alex Abigail:Abi/Abby Eleanor:Ellie Natalie:Nat
Amanda:Mandy Josephine:Jo/Josie Joanne:Jo Stephanie:Steph Nicola:Nicky Gillian:Jill Dorothy:Dot Frances:Fran
Kimberley:Kim Pamela:Pam Sandra:Sandy Valerie:Val Beverley:Bev Charlotte:Lottie Isabella:Bella Sarah:Sally
Kathleen:Kath Jessica:Jess""".split())
NICK = {k: v.split("/") for k, v in NICK.items()}
STREET_BASES = """Church Station High Mill Park Victoria Albert Queens King Manor Green School North South West East
New Chapel Main Springfield Grange Orchard Meadow Oak Elm Ash Beech Willow Cedar Hawthorn Holly Rowan Birch Chestnut
Maple Cherry Poplar Sycamore York Windsor Richmond Stanley Grosvenor Cavendish Wellington Nelson Trafalgar Waterloo
Highfield Woodland Riverside Bridge Castle Abbey Priory Market Water Brook Hill Moor Heath Common Fern Heather
Primrose Bluebell Lavender Clover Rose Ivy Thorn Broad Long Mount Marsh Fore Back Cross Gordon Clarence Alexandra
Princess Prince Regent George Edward Charles Milton Shakespeare Byron Tennyson Wordsworth Darwin Newton Cromwell
Beaconsfield Gladstone Palmerston Peel Salisbury Derby Lancaster Chester Dorset Devon Somerset Cornwall Kent Essex
Sussex Surrey Norfolk Suffolk Stafford Warwick Oxford Cambridge Bedford Hampton Ashley Beverley Fairfield Greenfield
Westfield Southfield Sandy Stony Burnside Glebe Vicarage Rectory Hall Lodge Farm Forge Quarry Tannery Dale Valley
Hollow""".split()
ABBR = {"Road": "Rd", "Street": "St", "Avenue": "Ave", "Lane": "Ln", "Close": "Cl", "Drive": "Dr", "Crescent": "Cres",
        "Gardens": "Gdns", "Terrace": "Ter", "Place": "Pl", "Court": "Ct", "Grove": "Gr", "Way": "Way", "View": "View",
        "Rise": "Rise"}
TOWNS = """London:E London:N London:SE London:SW London:NW London:W Birmingham:B Manchester:M Leeds:LS Glasgow:G
Liverpool:L Sheffield:S Bristol:BS Edinburgh:EH Cardiff:CF Belfast:BT Leicester:LE Bradford:BD Nottingham:NG
Coventry:CV Newcastle upon Tyne:NE Hull:HU Stoke-on-Trent:ST Wolverhampton:WV Derby:DE Southampton:SO Portsmouth:PO
Plymouth:PL Reading:RG Oxford:OX Cambridge:CB Norwich:NR Ipswich:IP Exeter:EX York:YO Harrogate:HG Wakefield:WF
Huddersfield:HD Halifax:HX Doncaster:DN Lincoln:LN Preston:PR Blackburn:BB Bolton:BL Oldham:OL Wigan:WN Warrington:WA
Chester:CH Stockport:SK Sunderland:SR Durham:DH Darlington:DL Middlesbrough:TS Carlisle:CA Lancaster:LA Blackpool:FY
Swansea:SA Newport:NP Wrexham:LL Aberdeen:AB Dundee:DD Inverness:IV Peterborough:PE Northampton:NN Milton Keynes:MK
Luton:LU Watford:WD St Albans:AL Stevenage:SG Chelmsford:CM Colchester:CO Southend-on-Sea:SS Brighton:BN Crawley:RH
Guildford:GU Maidstone:ME Canterbury:CT Tunbridge Wells:TN Croydon:CR Kingston upon Thames:KT Sutton:SM Bromley:BR
Dartford:DA Romford:RM Ilford:IG Enfield:EN Harrow:HA Uxbridge:UB Twickenham:TW Slough:SL High Wycombe:HP Swindon:SN
Bath:BA Gloucester:GL Worcester:WR Hereford:HR Shrewsbury:SY Telford:TF Walsall:WS Dudley:DY Bournemouth:BH
Salisbury:SP Dorchester:DT Taunton:TA Torquay:TQ Truro:TR Barnsley:S Rotherham:S Grimsby:DN Kirkcaldy:KY Perth:PH
Stirling:FK Paisley:PA Kilmarnock:KA Dumfries:DG Galashiels:TD Newry:BT Bangor:LL Rochdale:OL Burnley:BB"""
INWARD = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the inward unit
LOW = "abcdefghijklmnopqrstuvwxyz"
W_NHS = (10, 9, 8, 7, 6, 5, 4, 3, 2)

def cum(ws, total):  # rescale weights to a given total share
    s = sum(ws); return [w * total / s for w in ws]

def build_pools():
    fr = random.Random(20240607)  # fixed: pools identical for every seed
    def dd(xs): return list(dict.fromkeys(xs))
    male, female, uk = dd(MALE), dd(FEMALE), dd(UK_SUR)
    comp = [r + s for r in ROOTS for s in SUFFIXES if (r + s) not in uk]
    fr.shuffle(comp); comp = comp[:750]
    sur, w, grp = list(uk), cum([1 / (r + 15) for r in range(len(uk))], 0.45), [0] * len(uk)
    sur += comp; w += cum([1 / (r + 100) for r in range(len(comp))], 0.40); grp += [0] * len(comp)
    eg = [None]
    for g, (names, m, f, share) in enumerate(ETH, 1):
        sur += names; w += cum([1 / (r + 8) for r in range(len(names))], share); grp += [g] * len(names)
        eg.append({"M": m, "F": f})
    given = {}
    for sex, lst in (("M", male), ("F", female)):
        tail = lst[40:]; fr.shuffle(tail); lst[40:] = tail  # keep a popular head, rest mixed
        given[sex] = (lst, list(accumulate(1 / (r + 25) for r in range(len(lst)))))
    combos = [(b, t) for b in STREET_BASES for t in ABBR]; fr.shuffle(combos)
    streets = [("High", "Street"), ("Church", "Road"), ("Station", "Road"), ("Main", "Street"), ("Park", "Road")]
    streets = dd(streets + combos[:420])
    st_full = [f"{b} {t}" for b, t in streets]
    st_abbr = [f"{b} {ABBR[t]}" for b, t in streets]
    towns = re.findall(r"(\S[^:]*?):([A-Z]+)", " ".join(TOWNS.split()))  # [(town, postcode area)]
    tcw = list(accumulate(3 if i < 25 else 1 for i in range(len(towns))))
    dmax = [fr.randint(6, 30) for _ in towns]
    # birth dates 1924-01-01 .. 2024-06-30, flat to age 60 then tailing off
    dates, dw, d = [], [], date(1924, 1, 1)
    while d <= date(2024, 6, 30):
        age = 2024 - d.year
        dates.append((d.year, d.month, d.day)); dw.append(1.0 if age <= 60 else max(0.03, 1 - (age - 60) / 42))
        d += timedelta(days=1)
    iso = [f"{y:04d}-{m:02d}-{dd_:02d}" for y, m, dd_ in dates]
    dmy = [f"{dd_:02d}/{m:02d}/{y:04d}" for y, m, dd_ in dates]
    return dict(sur=sur, scw=list(accumulate(w)), grp=grp, eg=eg, given=given, st_full=st_full, st_abbr=st_abbr,
                towns=towns, tcw=tcw, dmax=dmax, dates=dates, dcw=list(accumulate(dw)), iso=iso, dmy=dmy)

def typo(s, rng):
    n = len(s)
    if n < 3: return s
    k, i = rng.random(), rng.randrange(1, n)  # keep first letter (typos there are rarer)
    if k < 0.25: t = s[:i] + s[i + 1:]  # deletion
    elif k < 0.45: t = s[:i] + rng.choice(LOW) + s[i:]  # insertion
    elif k < 0.8: t = s[:i] + rng.choice(LOW) + s[i + 1:]  # substitution
    else: j = rng.randrange(1, n - 1); t = s[:j] + s[j + 1] + s[j] + s[j + 2:]  # transposition
    return t if t != s else s[:i] + ("x" if s[i] != "x" else "q") + s[i + 1:]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--people", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    t0 = time.time()
    P = build_pools()
    rng = random.Random(a.seed)
    rnd, rr = rng.random, rng.randrange
    sur, scw, grp, eg = P["sur"], P["scw"], P["grp"], P["eg"]
    stotal, dates, dcw, dtotal = scw[-1], P["dates"], P["dcw"], P["dcw"][-1]
    towns, tcw, ttotal, dmax = P["towns"], P["tcw"], P["tcw"][-1], P["dmax"]
    nst, given = len(P["st_full"]), P["given"]
    used_nhs = set()

    def nhs():
        while True:
            b = rr(400000000, 700000000)
            tot = sum(int(c) * w for c, w in zip(str(b), W_NHS))
            chk = 11 - tot % 11
            if chk == 10: continue  # check digit 10 is invalid: draw again
            n = b * 10 + (0 if chk == 11 else chk)
            if n not in used_nhs:
                used_nhs.add(n); return n

    def forename(sex, g):  # people with a South Asian/Polish/West African/Chinese surname: 70% matching given name
        if g and rnd() < 0.7: return rng.choice(eg[g][sex])
        lst, cw = given[sex]
        return lst[bisect(cw, rnd() * cw[-1])]

    def address(town=None):
        t = bisect(tcw, rnd() * ttotal) if town is None else town
        pc = f"{towns[t][1]}{rr(1, dmax[t] + 1)} {rr(10)}{INWARD[rr(20)]}{INWARD[rr(20)]}"  # e.g. LS6 2AB
        return 1 + int(rnd() ** 2 * 180), rr(nst), t, pc

    def surname(sex):
        i = bisect(scw, rnd() * stotal); s = sur[i]
        return (s[:-1] + "a" if sex == "F" and s.endswith("ski") else s), grp[i]  # Polish feminine form

    people, N = [], a.people
    while len(people) < N:
        u = rnd()
        if u < 0.005 and len(people) < N - 1:  # twins: same surname, dob, address
            sx1, sx2 = ("M" if rnd() < 0.5 else "F"), ("M" if rnd() < 0.5 else "F")
            s, g = surname(sx1)
            s2 = (s[:-1] + "a" if sx2 == "F" and s.endswith("ski") else
                  s[:-1] + "i" if sx2 == "M" and s.endswith("ska") else s)
            f1, f2 = forename(sx1, g), forename(sx2, g)
            while f2 == f1:
                f2 = forename(sx2, g)
            di, ad = bisect(dcw, rnd() * dtotal), address()
            people.append((f1, s, sx1, di) + ad + (nhs(),))
            people.append((f2, s2, sx2, di) + ad + (nhs(),))
        elif u < 0.009 and people:  # stranger with same name, sex and dob elsewhere
            f, s, sx, di = people[rr(len(people))][:4]
            people.append((f, s, sx, di) + address() + (nhs(),))
        else:
            sx = "M" if rnd() < 0.49 else "F"
            s, g = surname(sx)
            people.append((forename(sx, g), s, sx, bisect(dcw, rnd() * dtotal)) + address() + (nhs(),))
    del used_nhs
    inl, inr = [rnd() < 0.8 for _ in range(N)], [rnd() < 0.6 for _ in range(N)]  # independent: both ~48%
    lidx, ridx = [i for i in range(N) if inl[i]], [i for i in range(N) if inr[i]]
    lid, rid = [None] * N, [None] * N
    for i, x in zip(lidx, rng.sample(range(10 ** 8), len(lidx))): lid[i] = f"L{x:08d}"
    for i, x in zip(ridx, rng.sample(range(1 << 48), len(ridx))): rid[i] = f"{x:012x}"
    rng.shuffle(lidx); rng.shuffle(ridx)
    iso, dmy, st_full, st_abbr = P["iso"], P["dmy"], P["st_full"], P["st_abbr"]
    os.makedirs(a.out_dir, exist_ok=True)

    def left_rows():
        for i in lidx:
            f, s, sx, di, house, st, t, pc, n = people[i]
            if rnd() < 0.02: f = typo(f, rng)
            if rnd() < 0.02: s = typo(s, rng)
            yield (lid[i], f, s, iso[di], "" if rnd() < 0.01 else sx, pc,
                   f"{house} {st_full[st]}, {towns[t][0]}", "" if rnd() < 0.10 else n)

    def right_rows():
        for i in ridx:
            f, s, sx, di, house, st, t, pc, n = people[i]
            if rnd() < 0.05:  # nickname or initial
                nk = NICK.get(f)
                f = rng.choice(nk) if nk and rnd() < 0.7 else f[0]
            if rnd() < 0.04 and len(f) > 2: f = typo(f, rng)
            if sx == "F" and rnd() < 0.03:  # marriage
                ns = surname("F")[0]
                s = f"{s}-{ns}" if rnd() < 0.15 else ns
            if rnd() < 0.04: s = typo(s, rng)
            y, m, d = dates[di]; dob = dmy[di]
            if d <= 12 and d != m and rnd() < 0.02:
                dob = f"{m:02d}/{d:02d}/{y:04d}"; y, m, d = y, d, m
            if rnd() < 0.01:
                y += 1 if rnd() < 0.5 else -1
                if m == 2 and d == 29: d = 28
                dob = f"{d:02d}/{m:02d}/{y:04d}"
            if rnd() < 0.08:  # moved: new address (60% same town)
                house, st, t, pc = address(t if rnd() < 0.6 else None)
            if rnd() < 0.15: pc = pc.replace(" ", "")
            if rnd() < 0.10: pc = pc.lower()
            if rnd() < 0.03: pc = ""
            u = rnd()  # NHS data dictionary: 1 male, 2 female, 9 not specified, 0 not known
            code = "9" if u < 0.005 else "0" if u < 0.01 else "1" if sx == "M" else "2"
            ns = str(n)
            if rnd() < 0.30: ns = ""
            else:
                if rnd() < 0.01:
                    k = rr(10); ns = ns[:k] + str((int(ns[k]) + 1 + rr(9)) % 10) + ns[k + 1:]
                if rnd() < 0.40: ns = f"{ns[:3]} {ns[3:6]} {ns[6:]}"
            street = st_abbr[st] if rnd() < 0.5 else st_full[st]
            yield (rid[i], f, s, dob, code, pc, str(house), f"{street}, {towns[t][0]}", ns)

    pairs = sorted((lid[i], rid[i]) for i in range(N) if inl[i] and inr[i])
    for name, head, rows in (
            ("left", "record_id,forename,family_name,birth_date,gender,post_code,street_address,nhs_no", left_rows()),
            ("right", "uid,first,last,dob,sex_code,pcode,addr1,addr2,nhsnum", right_rows()),
            ("truth", "left_id,right_id", pairs)):
        with open(os.path.join(a.out_dir, name + ".csv"), "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh); w.writerow(head.split(",")); w.writerows(rows)
    print(f"people={N} left={len(lidx)} right={len(ridx)} pairs={len(pairs)} "
          f"seconds={time.time() - t0:.1f}", file=sys.stderr)

if __name__ == "__main__":
    main()
