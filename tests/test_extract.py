"""Short answers, rule by rule: a sentence and a question in, the exact span out.

Each case is a corpus of its own (the sentence and two sentences about something else),
answered through the whole engine with the short-answer gate open, so that the span the
rules find is the one tested whatever the gate thinks of it (the gate has its tests in
test_confidence.py); ``text == document[start:end]`` is checked on every answer.
"""

from __future__ import annotations

import unicodedata

import pytest

from quotebot.engine import QuoteEngine
from quotebot.models import Answer, Document
from quotebot.names import looks_like_name
from quotebot.store.build import build_index
from quotebot.tuning import default_tuning

#: Every short answer the rules find is shown.
OPEN = default_tuning().with_values({"answer.threshold": 0.0, "answer.words_threshold": 0.0})
OTHER = ("\n\nThe weather in the region was mild for the season.\n\n"
         "Local schools reopened after the holidays.\n")


def ask(sentence: str, question: str) -> Answer:
    text = sentence + OTHER
    engine = QuoteEngine(build_index([Document("article", "Article", text)]), tuning=OPEN)
    answer = engine.answer_question(question)
    if answer.short is not None:
        assert text[answer.short.start:answer.short.end] == answer.short.text
    return answer


def short_answer(sentence: str, question: str) -> str | None:
    answer = ask(sentence, question)
    assert answer.answered, (question, answer.reason)
    assert answer.quotes[0].text == sentence.strip(), question
    return answer.short.text if answer.short else None


def check(sentence: str, question: str, expected: str | None) -> None:
    assert short_answer(sentence, question) == expected, (sentence, question)


# -- whole units: a number with its currency, scale and unit -------------------------------

@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("Nordvik agreed to buy the rival firm for £48m last year.",
     "How much did Nordvik pay for the rival firm?", "£48m"),
    ("Inflation rose to 8.5% in the spring.", "How much did inflation rise?", "8.5%"),
    ("The company reported a profit of 900 million kronor.",
     "How much profit did the company report?", "900 million kronor"),
    ("The deal was worth US$1.2bn, the company said.", "How much was the deal worth?",
     "US$1.2bn"),
    ("The deal was worth $1.2 billion, the company said.", "How much was the deal worth?",
     "$1.2 billion"),
    ("Runners in the race covered 42 km through the city centre.",
     "How far did the runners in the race go?", "42 km"),
    ("The works on the bridge took three years to finish.",
     "How long did the works on the bridge take?", "three years"),
    # A duration of several units, and a rate, are whole.
    ("The flight from Oslo takes 1 hour 50 minutes on a good day.",
     "How long does the flight from Oslo take?", "1 hour 50 minutes"),
    ("The trial lasted 2 years and 3 months in all.", "How long did the trial last?",
     "2 years and 3 months"),
    ("The average water bill is $48.20 a month in the district.",
     "How much is the average water bill?", "$48.20 a month"),
    ("A household in the district uses 15,000 litres per year.",
     "How much water does a household use?", "15,000 litres per year"),
    # A number after a possessive name is no part of the name.
    ("Jordan Norwood's 61-yard punt return beat the old record of 45 yards.",
     "How many yards did Jordan Norwood return the punt?", "61"),
    # The question's own counted word beats a "times" nearby.
    ("The defence sacked him seven times and forced him into three turnovers.",
     "How many times did the defence force him into turnovers?", "three"),
    ("The Council meets twice a year at various places around the world.",
     "How many times a year does the Council meet?", "twice"),
    ("Prices at the market rose by 8.5 per cent over the winter.",
     "By how much did prices at the market rise?", "8.5 per cent"),
    # "How ADJ …?" asks for a measure, which the adjective may follow.
    ("The bridge, which opened in 1932, is 3 km long.", "How long is the bridge?", "3 km"),
    ("Inflation rose to 8.5% in the spring.", "How high did inflation rise?", "8.5%"),
    # A number that is part of a name is passed over, and the next one taken.
    ("Super Bowl 50 drew 111 million viewers across the country.",
     "How many viewers did Super Bowl 50 draw?", "111 million"),
    # The counted noun in the singular counts.
    ("One ship sank and 40 sailors drowned off the coast.",
     "How many ships sank off the coast?", "One"),
    ("The party won 42 seats, or 12 percent, in the 1998 election.",
     "What percent of the seats did the party win?", "12 percent"),
])
def test_a_number_comes_with_its_currency_scale_and_unit(sentence: str, question: str,
                                                         expected: str) -> None:
    check(sentence, question, expected)


@pytest.mark.parametrize(("sentence", "question", "expected"), [
    # The unit the question names is not repeated in the answer.
    ("The punt travelled 61 yards before it went out.",
     "How many yards did the punt travel?", "61"),
    ("She served on the council for 12 years before retiring.",
     "How many years did she serve on the council?", "12"),
])
def test_a_unit_named_by_the_question_is_left_out(sentence: str, question: str,
                                                  expected: str) -> None:
    check(sentence, question, expected)


# -- whole dates and times ----------------------------------------------------------------

@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("The vote will take place on Monday at 6pm.", "When will the vote take place?",
     "Monday at 6pm"),
    ("The factory opened in January 2025 after long delays.", "When did the factory open?",
     "January 2025"),
    ("The museum reopened on 6 March 2024 with a new wing.", "When did the museum reopen?",
     "6 March 2024"),
    ("The band formed in the 1990s in a garage.", "When did the band form?", "the 1990s"),
    ("The ferry leaves at 6.30 p.m. on Friday from the harbour.",
     "When does the ferry leave?", "6.30 p.m. on Friday"),
    ("The league announced on October 16, 2012, that two stadiums were finalists.",
     "When did the league announce the finalists?", "October 16, 2012"),
    ("The club was founded in 1878 by railway workers.", "When was the club founded?",
     "1878"),
    # A date at the end of a sentence leaves its full stop behind.
    ("A public exhibition of the designs will be held at the library from 2 April.",
     "When will the exhibition be held?", "2 April"),
    ("The movement began in the mid-18th century within the Church of England.",
     "When did the movement begin?", "the mid-18th century"),
    # Qualifiers, ranges and recurring days belong to the time.
    ("The new ferry will enter service in early 2026.",
     "When will the new ferry enter service?", "early 2026"),
    ("The water board meets at 7 pm on the second Tuesday of each month.",
     "When does the water board meet?", "7 pm on the second Tuesday of each month"),
    ("The bridge over the river was built between 1901 and 1904.",
     "When was the bridge over the river built?", "between 1901 and 1904"),
    ("The market opens at 8 am every Saturday in the square.",
     "When does the market open?", "8 am every Saturday"),
])
def test_a_date_or_time_is_the_whole_expression(sentence: str, question: str,
                                                expected: str) -> None:
    check(sentence, question, expected)


# -- whole names, without their titles -----------------------------------------------------

@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("Striker Tomás Álvarez, 24, scored twice in the second half.", "Who scored twice?",
     "Tomás Álvarez"),
    ("Ashford manager Stuart Greer was delighted with the result.",
     "Who was delighted with the result?", "Stuart Greer"),
    ("The team's striker Tomás Álvarez scored twice in the second half.",
     "Who scored twice?", "Tomás Álvarez"),
    # The subject ends before its verb.
    ("Peyton Manning became the oldest quarterback to win the final.",
     "Who was the oldest quarterback to win the final?", "Peyton Manning"),
    # A subject without a name stays whole.
    ("Senior Kent police officers travelled to the city last month.",
     "Who travelled to the city?", "Senior Kent police officers"),
])
def test_a_name_is_whole_and_without_its_title(sentence: str, question: str,
                                               expected: str) -> None:
    check(sentence, question, expected)


def test_decomposed_accents_keep_names_whole() -> None:
    sentence = unicodedata.normalize("NFD", "Striker Tomás Álvarez scored twice in the second "
                                            "half.")
    assert short_answer(sentence, "Who scored twice?") == unicodedata.normalize(
        "NFD", "Tomás Álvarez")


# -- accents ------------------------------------------------------------------------------

@pytest.mark.parametrize("question", ["How old is Alvarez?", "How old is Álvarez?",
                                      "how old is alvarez"])
def test_a_name_matches_with_or_without_its_accents(question: str) -> None:
    answer = ask("Striker Tomás Álvarez, 24, scored twice in the second half.", question)
    assert answer.answered, answer.reason
    assert answer.quotes[0].text.startswith("Striker Tomás Álvarez, 24")
    assert answer.short is not None and answer.short.text == "24"


@pytest.mark.parametrize("word", ["Álvarez", "Élodie", "Øresund",
                                  unicodedata.normalize("NFD", "Álvarez")])
def test_the_name_rule_treats_accented_capitals_as_capitals(word: str) -> None:
    assert looks_like_name(word, at_start=False)
    assert not looks_like_name(word.lower(), at_start=False)


def test_a_misspelt_name_is_still_corrected_to_the_accented_one() -> None:
    answer = ask("Striker Tomás Álvarez, 24, scored twice in the second half.",
                 "How old is Alvarex?")
    assert answer.answered and answer.searched_for == "alvarez"
    assert answer.short is not None and answer.short.text == "24"


# -- abbreviations and their long forms ------------------------------------------------------

@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("Nordvik's chief executive, Anna Berg, said profits would rise.",
     "Who is the CEO of Nordvik?", "Anna Berg"),
    ("Anna Berg, the chief executive of Nordvik, said profits would rise.",
     "Who is the CEO of Nordvik?", "Anna Berg"),
    ("Nordvik's CEO, Anna Berg, said profits would rise.",
     "Who is the chief executive of Nordvik?", "Anna Berg"),
    ("Mark Rutte became prime minister of the Netherlands in 2010.",
     "When did Rutte become PM?", "2010"),
    ("The UN sent 300 observers to the border region.",
     "How many observers did the United Nations send?", "300"),
])
def test_an_abbreviation_finds_its_long_form_and_the_reverse(sentence: str, question: str,
                                                             expected: str) -> None:
    check(sentence, question, expected)


def test_the_words_of_a_long_form_count_only_when_written_together() -> None:
    answer = ask("The police chief said the executive committee would meet on Monday.",
                 "Who is the CEO?")
    assert not answer.answered


# -- "what" + noun, subjects, objects and copulas: the noun phrase asked for ---------------

@pytest.mark.parametrize(("sentence", "question", "expected"), [
    # The question's noun in the sentence, with the words that make it an answer.
    ("The UMC condemns capital punishment, saying that it is wrong.",
     "The UMC condemns what type of punishment?", "capital punishment"),
    ("Accelerations can be defined through kinematic measurements.",
     "What kind of measurements define accelerations?", "kinematic measurements"),
    ("The concept of inertia explains why objects keep moving at a constant speed.",
     "What concept explains why objects keep moving?", "inertia"),
    ("The cup was won by the Harbour Athletic team in 2019.", "What team won the cup?",
     "Harbour Athletic"),
    # A relative "that" after the noun, a participle after "a", "and" inside the question's
    # phrase.
    ("Physicists hope to develop unification models that would combine all interactions.",
     "What kind of models would combine all interactions?", "unification models"),
    ("The connection between electricity and magnetism describes a unified electromagnetic "
     "force that acts on a charge.", "What magnetic and electric force acts on a charge?",
     "unified electromagnetic force"),
    ("The Sunday Service was a revised version of the Book of Common Prayer.",
     "The Sunday Service was a revised version of what book?", "Book of Common Prayer"),
    # A title in quotes after the noun; the noun of "what is the name of …".
    ("John Wesley warned against drinking in his famous sermon, \"The Use of Money,\" and "
     "in his letters.",
     "What was the name of Wesley's famous sermon in which he warned against drinking?",
     "The Use of Money"),
    ("The game was played at Levi's Stadium in the San Francisco Bay Area.",
     "What is the name of the stadium in the San Francisco Bay Area?", "Levi's Stadium"),
    # "What position …?": the role written with the person's name.
    ("Denver linebacker Von Miller was named the most valuable player of the final.",
     "What position does Von Miller play for Denver?", "linebacker"),
    # The subject before the question's verb, or before a verb that words it differently.
    ("The center of mass will experience an acceleration proportional to the force.",
     "What experiences an acceleration proportional to the force?", "The center of mass"),
    ("General relativity offers an equivalence between space-time and mass.",
     "What has an equivalence between mass and space-time?", "General relativity"),
    ("While travelling at a constant velocity, the laws of physics do not change.",
     "What doesn't change at a constant velocity?", "the laws of physics"),
    ("A force pushes the block while the kinetic friction exactly opposes the applied force.",
     "What directly opposes the applied force?", "the kinetic friction"),
    # The agent of a passive verb.
    ("The definition is consistent with the one offered by Newtonian mechanics.",
     "What offered the definition?", "Newtonian mechanics"),
    # "What was the belief …?": what the copula says it is.
    ("A fundamental error was the belief that a force is needed to keep an object moving.",
     "What was the belief that a force is needed to keep an object moving?",
     "A fundamental error"),
    ("The United Methodist Church (UMC) is a mainline Protestant Methodist denomination.",
     "What is the United Methodist Church?", "a mainline Protestant Methodist denomination"),
    ("The highest level is called the General Conference and meets every four years.",
     "What is the highest level of the church?", "the General Conference"),
    ("The church conference is an annual meeting of all the officers of the church.",
     "What is an annual meeting of all the officers of the church?", "The church conference"),
    # A question that ends in its question word: the phrase after its last word.
    ("In the United States, the church ranks as the largest mainline Protestant denomination.",
     "In the United States the church ranks as the largest what?",
     "mainline Protestant denomination"),
    ("The church maintains that war is incompatible with Christ's message and teachings.",
     "The church maintains that war is incompatible with what?",
     "Christ's message and teachings"),
    ("Unlike confirmation and profession of faith, Baptism is a sacrament in the church.",
     "Unlike confirmation and profession of faith, what is a sacrament in the church?",
     "Baptism"),
    ("This principle of equivalence was one of the foundations for the development of the "
     "general theory of relativity.",
     "What was the basis for the development of the general theory of relativity?",
     "principle of equivalence"),
    # A question that ends with a preposition: the phrase after it.
    ("Sky+ HD material is broadcast using MPEG-4 and most of it uses DVB-S2.",
     "What is Sky+ HD material broadcast using?", "MPEG-4"),
    # The object after the question's verb, or after the doer and a verb of its own.
    ("The church uses unfermented grape juice in the sacrament of communion.",
     "What does the church use in the sacrament of communion?", "unfermented grape juice"),
    ("The singer performed the national anthem before the kick-off.",
     "What did the singer sing before the kick-off?", "the national anthem"),
    ("The model predicts that exchanged particles called gauge bosons carry the forces.",
     "What are the exchanged particles called?", "gauge bosons"),
    ("Bratton said the force had fallen behind the city police in crime-fighting technology.",
     "What has the force fallen behind the city police in?", "crime-fighting technology"),
    ("John Wesley originally called this experience the New Birth.",
     "What did John Wesley originally call the experience of conversion?", "the New Birth"),
    # Of two clauses with the verb, the one whose subject the question names.
    ("The electromagnetic force acts between electric charges, and the gravitational force "
     "acts between masses.", "What do gravitational forces act between?", "masses"),
    ("Investigators look for clues and evidence after a crime.",
     "What do investigators look for after a crime?", "clues and evidence"),
    # A question about money or a measure noun wants the amount.
    ("CBS charged an average of $5 million for a 30-second commercial during the game.",
     "What was the average cost of a 30-second commercial?", "$5 million"),
    ("The village has a population of 2,400 people.", "What is the population of the village?",
     "2,400"),
    ("The committee will give 25 percent of all money raised to causes in the area, and "
     "$2 million to schools.",
     "What percentage of money raised was earmarked for causes in the area?", "25 percent"),
    ("CBS charged an average of 5 million dollars for a 30-second commercial.",
     "How much did a 30-second commercial cost?", "5 million dollars"),
])
def test_what_questions_get_the_noun_phrase_they_ask_for(sentence: str, question: str,
                                                         expected: str) -> None:
    check(sentence, question, expected)


@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("The league featured gold-themed promotions and gold-tinted logos all season.",
     "What color did the league feature in its promotions?", "gold"),
    ("The league emphasized the golden anniversary with gold-themed promotions.",
     "What color did the league emphasize?", "gold"),
    ("The kit for the final was printed in gold and green.",
     "What colour was the kit for the final printed in?", None),
])
def test_a_colour_question_gets_the_one_colour_named(sentence: str, question: str,
                                                     expected: str | None) -> None:
    check(sentence, question, expected)


# -- why: the clause that gives the reason ---------------------------------------------------

@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("The match was postponed because the pitch was flooded after heavy rain.",
     "Why was the match postponed?", "the pitch was flooded after heavy rain"),
    ("The match was postponed due to a waterlogged pitch.", "Why was the match postponed?",
     "a waterlogged pitch"),
    ("The groundsmen covered the pitch in order to keep it dry.",
     "Why did the groundsmen cover the pitch?", "to keep it dry"),
    ("As a result of the revolution, Wesley was compelled to ordain two preachers.",
     "Why was Wesley compelled to ordain two preachers?", "the revolution"),
])
def test_why_gets_the_clause_of_reason(sentence: str, question: str, expected: str) -> None:
    check(sentence, question, expected)


@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("The movement began in the mid-18th century within the Church of England.",
     "Where did the movement begin?", "the Church of England"),
    # A place without a name, after a place preposition near the question's words.
    ("The Council meets twice a year at various locations throughout the world.",
     "Where does the Council meet?", "various locations"),
    ("The reporter announced the scores from the sidelines during the game.",
     "Where did the reporter announce the scores from?", "the sidelines"),
])
def test_where_gets_the_place(sentence: str, question: str, expected: str) -> None:
    check(sentence, question, expected)


def test_which_place_is_answered_by_the_name_that_opens_the_sentence() -> None:
    # The corpus writes "Texas" inside a sentence too, so it is a name at the start.
    answer = ask("In Texas the church is strong. Texas has the largest number of members.",
                 "Which state has the largest number of members?")
    assert answer.quotes[0].text.startswith("Texas has")
    assert answer.short is not None and answer.short.text == "Texas"


# -- names: appositions and lists -------------------------------------------------------------

@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("Anna Berg, the chief executive of Nordvik, said profits would rise.",
     "Who is the chief executive of Nordvik?", "Anna Berg"),
    ("Nordvik's chief executive, Anna Berg, said profits would rise.",
     "Who is the chief executive of Nordvik?", "Anna Berg"),
    ("Teams from Leeds, York and Hull reached the final of the cup.",
     "Which teams reached the final of the cup?", "Leeds, York and Hull"),
    ("The halftime show was headlined by Coldplay with special guests Beyoncé and Bruno Mars.",
     "Who were the special guests of the halftime show?", "Beyoncé and Bruno Mars"),
    # The name before the question's verb, past a number the question also names.
    ("With the founding of the new church in 1968, theologian Albert C. Outler led the team "
     "which wrote the doctrine.", "In 1968, who led the team which wrote the doctrine?",
     "Albert C. Outler"),
    # A relative clause describes the name it follows, not a name inside an apposition.
    ("The church is a member of the Holiness Consortium, which seeks to promote reform.",
     "Which body seeks to promote reform?", "Holiness Consortium"),
    ("Nothing was said about Harvey Martin, a former champion from Texas, who died in 2001.",
     "Which former champion died in 2001?", "Harvey Martin"),
    # A subject without a name answers "who" when no name does.
    ("Deacons assist elders in the sacraments of communion and baptism.",
     "Who assists elders in the sacraments of communion and baptism?", "Deacons"),
    # "Who was X?": the name on the other side of "was", "became", "was named".
    ("The team had a fine season, and quarterback Cam Newton was named the league's most "
     "valuable player.", "Who was the league's most valuable player?", "Cam Newton"),
    ("Anna Berg became the chief executive of Nordvik in 2019.",
     "Who is the chief executive of Nordvik?", "Anna Berg"),
    # The one acted on: the last name of the object after the question's verb.
    ("Denver then beat the defending Super Bowl XLIX champion New England Patriots in the "
     "AFC Championship Game.", "Who did Denver beat in the AFC championship?",
     "New England Patriots"),
    # A capitalised word that opens the sentence is not a name on its own.
    ("Despite Denver's excellent field position, McManus kicked a 33-yard field goal.",
     "Who kicked a field goal for Denver?", "McManus"),
    # Names written with an abbreviation's full stop, an initial or "&".
    ("In 1968 the theologian Albert C. Outler led the team which wrote the doctrine.",
     "Who led the team which wrote the doctrine?", "Albert C. Outler"),
    ("The trophy will be designed by Tiffany & Co. in New York.", "Who designed the trophy?",
     "Tiffany & Co"),
    ("St. George's United Methodist Church, on the corner of New Street, is the oldest "
     "Methodist church in the city.", "What is the oldest Methodist church in the city?",
     "St. George's United Methodist Church"),
    # One asked for, one given, though a list is near.
    ("Teams from Leeds, York and Hull reached the final, which Leeds won.",
     "Which team won the final?", "Leeds"),
])
def test_names_in_appositions_and_lists(sentence: str, question: str, expected: str) -> None:
    check(sentence, question, expected)


# -- a question word late in the question -----------------------------------------------------

@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("The UMC was a founding member of the Religious Coalition for Reproductive Choice.",
     "The UMC was a founding member of what coalition?",
     "Religious Coalition for Reproductive Choice"),
    ("Richard Allen was licensed by St. George's Church in 1784.",
     "Richard Allen was licensed by St. George's Church in what year?", "1784"),
    # A clause before the question: "When X left, who …?" asks "who".
    ("After John Fox left, the Broncos hired Gary Kubiak as their new head coach.",
     "When John Fox left as head coach, who did the Broncos hire?", "Gary Kubiak"),
    ("The United States is divided into five jurisdictions.",
     "The United States is divided into how many jurisdictions?", "five"),
])
def test_a_question_word_late_in_the_question_still_sets_the_kind(
        sentence: str, question: str, expected: str) -> None:
    check(sentence, question, expected)


# -- negatives: rules that must not fire -----------------------------------------------------

@pytest.mark.parametrize(("sentence", "question", "expected"), [
    # "became", "will become": a copula like "is" for the name after it.
    ("Jane Okafor will become the next mayor of the city.",
     "Who will become the next mayor of the city?", "Jane Okafor"),
    ("Jane Okafor became the mayor of the city in May.", "Who became the mayor of the city?",
     "Jane Okafor"),
    # "known as", "called": the name after the naming words, not the words themselves.
    ("The old bridge is known as the Iron Span by locals.", "What is the old bridge known as?",
     "the Iron Span"),
    ("The ferry operator is a company known as Blue Star Lines.",
     "What company runs the ferry?", "Blue Star Lines"),
    ("The two ferries were called Aurora and Borealis.", "What were the two ferries called?",
     "Aurora and Borealis"),
    ("The capital of the region is Leeds, a city of 800,000.",
     "What is the capital of the region?", "Leeds"),
])
def test_names_after_copulas_and_naming_words(sentence: str, question: str,
                                              expected: str) -> None:
    check(sentence, question, expected)


@pytest.mark.parametrize(("sentence", "question"), [
    # A year is no count, and a number inside a name is not one either.
    ("The stadium, which has many seats, opened in 2014.",
     "How many seats does the stadium have?"),
    ("The app ran on Windows 10 and on the new tablets.", "How many tablets ran the app?"),
    # "since" before a time is no reason.
    ("The club has played at the ground since 1990.", "Why does the club play at the ground?"),
    # No date in the sentence: no "when" answer from a number.
    ("The factory opened with 300 workers in the valley.", "When did the factory open?"),
    # The question's own words are not its answer.
    ("The anthem was sung before the match.", "What anthem was sung before the match?"),
    # A subject that is only a pronoun is no answer.
    ("It offers an equivalence between space-time and mass.",
     "What offers an equivalence between mass and space-time?"),
    # What someone said is the quote itself, not a noun phrase cut from it.
    ("The union said the cuts were a betrayal of the workers.", "What did the union say?"),
    ("The mayor told reporters the bridge would reopen soon.",
     "What did the mayor tell reporters?"),
])
def test_no_short_answer_where_no_rule_should_fire(sentence: str, question: str) -> None:
    assert short_answer(sentence, question) is None


def test_word_classes_are_lemminflects_own() -> None:
    from lemminflect import getAllLemmas

    from quotebot.extract.grammar import _classes

    words = ["offers", "record", "went", "better", "unified", "the", "mainline", "leaves",
             "saw", "children", "xyzzy", "running", "data", "axes", "best"]
    for word in words:
        assert _classes(word) == frozenset(getAllLemmas(word)), word
