%% @doc The Luhn checksum of card numbers, written in Erlang.
-module(luhn).

-export([valid/1, check_digit/1, digits/1]).

%% @doc Whether a card number (a binary or string of digits, spaces allowed) passes the check.
-spec valid(binary() | string()) -> boolean().
valid(Number) ->
    case digits(Number) of
        {ok, Digits} when length(Digits) >= 2 -> sum(lists:reverse(Digits), 0, false) rem 10 =:= 0;
        _ -> false
    end.

%% @doc The digit to append to a number so that it passes the check.
-spec check_digit(binary() | string()) -> 0..9.
check_digit(Number) ->
    {ok, Digits} = digits(Number),
    (10 - sum(lists:reverse(Digits), 0, true) rem 10) rem 10.

%% @doc The digits of a number, or `{error, {bad_character, C}}'.
-spec digits(binary() | string()) -> {ok, [0..9]} | {error, {bad_character, char()}}.
digits(Number) when is_binary(Number) ->
    digits(binary_to_list(Number));
digits(Number) when is_list(Number) ->
    collect(Number, []).

collect([], Acc) -> {ok, lists:reverse(Acc)};
collect([$\s | Rest], Acc) -> collect(Rest, Acc);
collect([C | Rest], Acc) when C >= $0, C =< $9 -> collect(Rest, [C - $0 | Acc]);
collect([C | _], _Acc) -> {error, {bad_character, C}}.

%% Sums the digits from the right, doubling every second one: a tail-recursive loop.
sum([], Sum, _Double) -> Sum;
sum([D | Rest], Sum, false) -> sum(Rest, Sum + D, true);
sum([D | Rest], Sum, true) when D * 2 > 9 -> sum(Rest, Sum + D * 2 - 9, false);
sum([D | Rest], Sum, true) -> sum(Rest, Sum + D * 2, false).
